"""``Idempotency-Key`` on creating POSTs: a retried request gets the first response."""
