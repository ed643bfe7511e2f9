"""Events: the transactional outbox, the vendor's events feed, and signed webhook delivery."""
