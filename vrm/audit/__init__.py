"""The person's access log: every vendor read, consent event and agreement, hash-chained."""
