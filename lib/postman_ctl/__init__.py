"""postmanctl: the operator command line (database setup, users, API keys)."""
