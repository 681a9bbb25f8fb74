"""Ledger fixtures: a migrated database (SQLite or PostgreSQL) and a real gRPC server on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from ferry.ledger.v1 import ledger_pb2_grpc
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url

from services.ledger import database, migrate
from services.ledger.schema import entries
from services.ledger.server import LedgerServicer
from services.shared import rpc

POSTGRES_ADMIN_URL = os.environ.get(
    "FERRY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


class PostgresServer:
    """Creates and drops scratch databases on the PostgreSQL server at POSTGRES_ADMIN_URL."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = make_url(database.normalize_url(admin_url))
        self._created: list[str] = []

    def create_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = f"ferry_test_{uuid.uuid4().hex[:12]}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self._admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.connect() as connection:
            for name in self._created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def connect(self) -> psycopg.Connection:
        url = self._admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(url, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_ADMIN_URL)
    try:
        server.connect().close()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable ({exc}); " \
                 "start it or set FERRY_TEST_POSTGRES_URL"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresServer) -> str:
    """A database shared by the session's PostgreSQL tests, each using its own accounts."""
    url = postgres.create_database()
    engine = database.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any tables, for migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty' / 'ledger.db'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = database.create_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def ledger(engine: Engine) -> AsyncIterator[ledger_pb2_grpc.LedgerServiceStub]:
    """A stub connected to a LedgerService server on a free port."""
    server, _health = rpc.create_server()
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(engine), server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    channel = rpc.open_channel(f"127.0.0.1:{port}")
    yield ledger_pb2_grpc.LedgerServiceStub(channel)
    await channel.close()
    await server.stop(None)


@pytest.fixture
def entries_total(engine: Engine) -> Callable[[str], int]:
    """Return a function that sums an account's ledger entries."""

    def total(account_id: str) -> int:
        with engine.connect() as connection:
            statement = select(func.coalesce(func.sum(entries.c.amount), 0)).where(
                entries.c.account_id == account_id
            )
            return int(connection.execute(statement).scalar_one())

    return total
