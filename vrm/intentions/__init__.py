"""Intentcasting: a person's requests for proposals, vendors' subscriptions, matches, offers."""
