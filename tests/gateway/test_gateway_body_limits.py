"""The body cap and the body timeout, over raw sockets against the gateway served by uvicorn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn

from services.gateway import body
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.shared.config import PeerSettings
from tests.gateway.conftest import CALL_TIMEOUT_SECONDS, Account

RESPONSE_TIMEOUT_SECONDS = 10.0
# Below uvicorn's 5 s keep-alive timeout, so only a Connection: close explains an EOF in time.
CLOSE_TIMEOUT_SECONDS = 2.0


@pytest.fixture
async def gateway_port(ledger_address: str, unreachable_address: str) -> AsyncIterator[int]:
    """Serve the gateway with uvicorn on 127.0.0.1 and return its port."""
    peers = PeerSettings(
        importer=unreachable_address,
        ledger=ledger_address,
        notifier=unreachable_address,
        timeout_seconds=CALL_TIMEOUT_SECONDS,
    )
    config = uvicorn.Config(
        create_app(GatewaySettings(peers=peers)), log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.02)
    yield sock.getsockname()[1]

    server.should_exit = True
    await task


async def _send_head(port: int, account: Account, extra_headers: str) -> tuple[
    asyncio.StreamReader, asyncio.StreamWriter
]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "POST /import HTTP/1.1\r\nHost: gateway.test\r\n"
            f"Authorization: Bearer {account.api_key}\r\n{extra_headers}\r\n"
        ).encode()
    )
    await writer.drain()
    return reader, writer


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
    """Read one response, then check that the server closed the connection after it."""
    async with asyncio.timeout(RESPONSE_TIMEOUT_SECONDS):
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        payload = json.loads(await reader.readexactly(length))
    async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
        assert await reader.read() == b""
    return status, payload


async def test_declared_length_over_cap_413_unread(gateway_port: int, account: Account):
    # 50 MB announced and never sent, so the response must arrive without the body.
    reader, writer = await _send_head(gateway_port, account, "Content-Length: 50000000\r\n")

    status, payload = await _read_response(reader)
    writer.close()

    assert status == 413
    assert payload["code"] == "body_too_large"


async def test_chunked_body_over_cap_413(gateway_port: int, account: Account):
    reader, writer = await _send_head(gateway_port, account, "Transfer-Encoding: chunked\r\n")
    chunk = b"x" * 16384
    # Send a little more than the cap and then stall, without the final zero-length chunk.
    for _ in range(body.MAX_BODY_BYTES // len(chunk) + 1):
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await writer.drain()

    status, payload = await _read_response(reader)
    writer.close()

    assert status == 413
    assert payload["details"] == {"maxBytes": body.MAX_BODY_BYTES}


async def test_short_body_408(
    gateway_port: int, account: Account, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.5)
    reader, writer = await _send_head(gateway_port, account, "Content-Length: 100\r\n")
    writer.write(b'{"url": "h')
    await writer.drain()

    status, payload = await _read_response(reader)
    writer.close()

    assert status == 408
    assert payload["code"] == "body_timeout"
    assert "did not arrive within 0.5 s" in payload["error"]
