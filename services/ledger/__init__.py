"""The ledger service: accounts, API keys, webhook secrets and credit holds."""
