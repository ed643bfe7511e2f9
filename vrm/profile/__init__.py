"""The person's profile: a typed catalogue of fields plus custom attributes."""
