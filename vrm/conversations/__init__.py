"""Consented conversations between a person and a vendor."""
