"""Run the Alembic migrations in `migrations/` without an alembic.ini or a working directory."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from services.ledger import database

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Key of the PostgreSQL advisory lock that keeps two ledgers from migrating at once.
_MIGRATION_LOCK_KEY = 0x6665727279  # "ferry" in ASCII


def alembic_config(connection: Connection | None = None) -> Config:
    """Build the Alembic configuration; env.py runs on `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> str:
    """Upgrade the schema to the latest revision and return that revision."""
    with database.write_transaction(engine) as connection:
        if database.is_postgresql(engine):
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection), "head")
        revision = current_revision(connection)

    logger.info("database %s is at schema revision %s",
                engine.url.render_as_string(hide_password=True), revision)
    return revision or ""


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
