"""Gateway fixtures: a real ledger on SQLite, and HTTP clients of the app built on them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.ledger import database, migrate
from services.ledger.server import LedgerServicer
from services.shared import rpc
from services.shared.config import PeerSettings
from tools import launch

# Short enough that a test of an unreachable service stays fast, long enough for SQLite.
CALL_TIMEOUT_SECONDS = 5.0

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@dataclass(frozen=True)
class Account:
    account_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="session")
def unreachable_address() -> str:
    """Return a 127.0.0.1 address on which nothing listens."""
    return f"127.0.0.1:{launch.free_port()}"


@pytest.fixture(scope="session")
async def ledger_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Run the real ledger servicer on a SQLite file and return its address."""
    path: Path = tmp_path_factory.mktemp("gateway-ledger") / "ledger.db"
    engine = database.create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)

    server, _ = rpc.create_server()
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(engine), server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    yield f"127.0.0.1:{port}"

    await server.stop(None)
    engine.dispose()


async def create_account(ledger_address: str) -> Account:
    """Create a ledger account with 100 credits."""
    async with rpc.open_channel(ledger_address) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        request = ledger_pb2.CreateAccountRequest(name="gateway-test", credits=100)
        created = await stub.CreateAccount(request, timeout=CALL_TIMEOUT_SECONDS)
    return Account(created.account.account_id, created.api_key)


@pytest.fixture
async def account(ledger_address: str) -> Account:
    return await create_account(ledger_address)


@pytest.fixture
async def make_client(unreachable_address: str) -> AsyncIterator[ClientFactory]:
    """Return a factory of clients of the gateway app; services not named are unreachable."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            *, ledger: str = "", importer: str = "", notifier: str = ""
        ) -> httpx.AsyncClient:
            peers = PeerSettings(
                importer=importer or unreachable_address,
                ledger=ledger or unreachable_address,
                notifier=notifier or unreachable_address,
                timeout_seconds=CALL_TIMEOUT_SECONDS,
            )
            app = create_app(GatewaySettings(peers=peers))
            # httpx's ASGITransport does not send lifespan events, so run the lifespan here.
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
            return await stack.enter_async_context(client)

        yield make
