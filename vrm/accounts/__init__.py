"""Person accounts: sign-up, passwords, login and personal access tokens."""
