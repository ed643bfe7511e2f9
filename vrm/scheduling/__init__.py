"""The periodic jobs' ledger: each job runs once per period, however many workers run."""
