"""Alembic migrations of the ledger database, run by services.ledger.migrate."""
