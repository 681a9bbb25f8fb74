"""A whole import through the gateway: real ledger, importer, notifier, NATS and S3."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import httpx
import pytest

from services.importer import server as importer_server
from services.importer.config import ImporterSettings
from services.notifier import server as notifier_server
from services.notifier.config import NotifierSettings
from services.shared.config import DataSettings, NatsSettings, PeerSettings, UrlPolicy
from tests.conftest import Infra
from tests.gateway.conftest import CALL_TIMEOUT_SECONDS, Account, ClientFactory, create_account
from tests.media import make_mp4, serve_media
from tools import launch

# The clip is 3 seconds of 320x240 video and imports in seconds; the rest is slack for slow CI.
IMPORT_DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class Stack:
    importer: str
    notifier: str
    media_url: str
    webhook_url: str
    webhook_bodies: list[dict[str, object]]


class _WebhookHandler(BaseHTTPRequestHandler):
    bodies: list[dict[str, object]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """Run an HTTP server on 127.0.0.1 that records every JSON body POSTed to it."""
    bodies: list[dict[str, object]] = []
    handler = type("Handler", (_WebhookHandler,), {"bodies": bodies})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", bodies
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
async def stack(
    infra: Infra, ledger_address: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Run the importer and the notifier on their own nats-server, beside the test ledger.

    A separate nats-server keeps their durable consumers away from events that other
    test modules publish on the session's server.
    """
    root = tmp_path_factory.mktemp("gateway-stack")
    nats_process, nats_url = launch.start_nats(root / "nats", root / "logs")
    importer_address = f"127.0.0.1:{launch.free_port()}"
    notifier_address = f"127.0.0.1:{launch.free_port()}"
    peers = PeerSettings(ledger=ledger_address, timeout_seconds=CALL_TIMEOUT_SECONDS)
    importer_settings = ImporterSettings(
        port=int(importer_address.rsplit(":", 1)[1]),
        nats=NatsSettings(url=nats_url),
        s3=infra.s3_settings(),
        peers=peers,
        urls=UrlPolicy(allow_private=True),
        data=DataSettings(directory=root / "data"),
    )
    notifier_settings = NotifierSettings(
        port=int(notifier_address.rsplit(":", 1)[1]),
        nats=NatsSettings(url=nats_url),
        peers=peers,
        url_policy=UrlPolicy(allow_private=True),
        retry_schedule=(0.2, 0.2),
    )

    stopping = asyncio.Event()
    tasks = [
        asyncio.create_task(importer_server.serve(importer_settings, stopping)),
        asyncio.create_task(notifier_server.serve(notifier_settings, stopping)),
    ]
    try:
        await _wait_until_ready(importer_address, tasks)
        await _wait_until_ready(notifier_address, tasks)
        clip = make_mp4(root, name="round trip.mp4")
        with serve_media(root) as media, webhook_receiver() as (webhook_url, bodies):
            yield Stack(importer_address, notifier_address, media.url(clip), webhook_url, bodies)
    finally:
        stopping.set()
        await asyncio.gather(*tasks)
        nats_process.stop()


async def _wait_until_ready(address: str, tasks: list[asyncio.Task[None]]) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        ready = asyncio.create_task(channel.channel_ready())
        done, _ = await asyncio.wait([ready, *tasks], timeout=30, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            for task in done:
                task.result()  # re-raises the error of a service that failed to start
            raise TimeoutError(f"no gRPC server at {address} after 30 s")


async def _wait_for_final_status(client: httpx.AsyncClient, path: str, account: Account) -> dict:
    async with asyncio.timeout(IMPORT_DEADLINE_SECONDS):
        while True:
            data = (await client.get(path, headers=account.headers)).json()["data"]
            if data["status"] in ("completed", "failed"):
                return data
            await asyncio.sleep(0.2)


async def test_round_trip_completed(
    make_client: ClientFactory, ledger_address: str, account: Account, stack: Stack
):
    client = await make_client(
        ledger=ledger_address, importer=stack.importer, notifier=stack.notifier
    )

    started = await client.post(
        "/import",
        json={"url": stack.media_url, "format": 720, "webhookUrl": stack.webhook_url},
        headers=account.headers,
    )

    assert started.status_code == 200
    import_id = started.json()["data"]["importId"]
    assert started.json() == {
        "success": True,
        "data": {
            "importId": import_id,
            "status": "queued",
            "message": "Media import has started. You will receive a webhook when it's complete.",
        },
    }

    data = await _wait_for_final_status(client, f"/import/status?id={import_id}", account)

    assert data["status"] == "completed", data["message"]
    assert data["title"] == "round trip"
    assert data["duration"] > 2
    assert data["creditsUsed"] == 1
    assert data["ext"] == "mp4"
    assert data["width"] == 320
    assert data["expiresAt"] > data["finishedAt"]
    async with httpx.AsyncClient() as s3_client:
        media = await s3_client.get(data["mediaUrl"])
    assert media.status_code == 200
    assert len(media.content) == data["filesize"]


async def test_round_trip_webhook_log(
    make_client: ClientFactory, ledger_address: str, account: Account, stack: Stack
):
    client = await make_client(
        ledger=ledger_address, importer=stack.importer, notifier=stack.notifier
    )
    started = await client.post(
        "/import",
        json={"url": stack.media_url, "webhook_url": stack.webhook_url},
        headers=account.headers,
    )
    import_id = started.json()["data"]["importId"]
    await _wait_for_final_status(client, f"/import/status?id={import_id}", account)

    async with asyncio.timeout(IMPORT_DEADLINE_SECONDS):
        while True:
            response = await client.get(f"/import/webhooks?id={import_id}", headers=account.headers)
            if response.json()["data"]["attempts"]:
                break
            await asyncio.sleep(0.2)

    assert response.status_code == 200
    attempt = response.json()["data"]["attempts"][0]
    assert attempt["messageId"] == f"{import_id}.completed"
    assert attempt["eventType"] == "import.completed"
    assert attempt["url"] == stack.webhook_url
    assert attempt["attempt"] == 1
    assert attempt["httpStatus"] == 200
    assert attempt["outcome"] == "delivered"
    assert any(body.get("importId") == import_id for body in stack.webhook_bodies)


async def test_round_trip_poll_message(
    make_client: ClientFactory, ledger_address: str, account: Account, stack: Stack
):
    client = await make_client(ledger=ledger_address, importer=stack.importer)

    started = await client.post("/import", json={"url": stack.media_url}, headers=account.headers)

    import_id = started.json()["data"]["importId"]
    message = started.json()["data"]["message"]
    expected = f"Media import has started. Poll GET /import/status?id={import_id} for the result."
    assert message == expected


async def test_round_trip_other_account_404(
    make_client: ClientFactory,
    ledger_address: str,
    account: Account,
    stack: Stack,
):
    client = await make_client(ledger=ledger_address, importer=stack.importer)
    started = await client.post("/import", json={"url": stack.media_url}, headers=account.headers)
    import_id = started.json()["data"]["importId"]
    other = await create_account(ledger_address)

    status = await client.get(f"/import/status?id={import_id}", headers=other.headers)
    webhooks = await client.get(f"/import/webhooks?id={import_id}", headers=other.headers)

    assert status.status_code == 404
    assert status.json()["code"] == "not_found"
    assert webhooks.status_code == 404


async def test_round_trip_invalid_url_400(
    make_client: ClientFactory, ledger_address: str, account: Account, stack: Stack
):
    client = await make_client(ledger=ledger_address, importer=stack.importer)

    response = await client.post(
        "/import", json={"url": "ftp://media.example/clip.mp4"}, headers=account.headers
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_url"
    assert response.json()["details"] == {"field": "url"}
