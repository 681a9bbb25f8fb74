"""Alembic environment: run the migrations on the connection that `migrate.upgrade` passes."""

from __future__ import annotations

from alembic import context

from services.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the ledger migrations run through services.ledger.migrate; use `ferry db upgrade`"
    )

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
