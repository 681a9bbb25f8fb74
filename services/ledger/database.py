"""Database engines for the ledger: URL handling, SQLite locking and transactions.

Write transactions on SQLite start with BEGIN IMMEDIATE, so concurrent writers queue on
the database lock (up to the busy timeout) instead of failing when a deferred
transaction tries to upgrade its lock. Read transactions stay deferred, so WAL lets them
run beside a writer.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

logger = logging.getLogger(__name__)

# How long a SQLite writer waits for the lock before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000

_BEGIN_OPTION = "ferry_sqlite_begin"
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def normalize_url(url: str) -> str:
    """Point postgres:// and postgresql:// URLs at the psycopg 3 driver."""
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    return url


def display_url(url: str) -> str:
    """Return `url` with its password masked, for messages and logs."""
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        # An unparsable URL may still contain a password, so show only its scheme.
        return url.split("://", 1)[0] + "://..."


def create_engine(url: str) -> Engine:
    """Create an engine for `url`, creating the directory of a SQLite file if needed."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(parsed, pool_pre_ping=True)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(parsed)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Run a block in a transaction that takes the write lock at once on SQLite."""
    with engine.begin() as connection:
        yield connection


@contextlib.contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """Run a block in a read-only transaction that does not block writers on SQLite."""
    with engine.connect() as connection:
        connection.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        with connection.begin():
            yield connection


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    # Leave transactions to the "begin" listener: pysqlite's own implicit BEGIN is deferred
    # and is skipped before DDL statements.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")
