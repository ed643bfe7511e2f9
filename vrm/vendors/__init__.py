"""Vendors, their OAuth clients and grants, and the person's relationships with them."""
