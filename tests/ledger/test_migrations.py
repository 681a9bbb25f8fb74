"""Alembic migrations, run programmatically against empty databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from services.ledger import database, migrate
from services.ledger.schema import metadata

TABLES = {
    "accounts", "api_keys", "webhook_secrets", "holds", "entries", "slots", "rate_counters",
    "alembic_version",
}


def test_upgrade_from_empty_creates_tables(empty_database_url):
    engine = database.create_engine(empty_database_url)
    try:
        revision = migrate.upgrade(engine)
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

    assert revision == migrate.head_revision()
    assert tables == TABLES


def test_upgrade_twice_is_noop(empty_database_url):
    engine = database.create_engine(empty_database_url)
    try:
        first = migrate.upgrade(engine)
        second = migrate.upgrade(engine)
    finally:
        engine.dispose()

    assert second == first


def test_migrations_match_schema_module(empty_database_url):
    engine = database.create_engine(empty_database_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_normalize_url_uses_psycopg():
    assert database.normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database.normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database.normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_display_url_hides_password():
    assert "secret" not in database.display_url("postgresql://ferry:secret@db:5432/ferry")
