"""The person's rights over their data: export everything (GDPR Art. 15/20), erase everything."""
