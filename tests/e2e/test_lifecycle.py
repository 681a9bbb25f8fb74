"""The import lifecycle on a stack with a retention of a few seconds: expiry, cancel,
listing, idempotency keys and the limits that end an import in a clean failure."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from minio import Minio

from tests import media
from tests.e2e.conftest import WebhookReceiver
from tools.devstack import DevAccount, Stack
from tools.launch import free_port

pytestmark = pytest.mark.e2e

RETENTION_SECONDS = 6
STALL_SECONDS = 3
MAX_DURATION_SECONDS = 5
LIMIT_MEGABYTES = 100
VIRTUAL_BYTES = 2 * 10**9
# The yt-dlp child reads fixed blocks of 64 KiB, so it stops at most one block past the limit.
BLOCK_BYTES = 64 * 1024


class VirtualMediaHandler(BaseHTTPRequestHandler):
    """/big.mp4: 2 GB of zeros with a Content-Length; /big-unsized.mp4: the same without one;
    /stall.mp4: 300 KB, then silence."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        try:
            if self.path == "/stall.mp4":
                self._start(10**6)
                self.wfile.write(b"\0" * 300_000)
                self.wfile.flush()
                time.sleep(30)
                return
            self._start(VIRTUAL_BYTES if self.path == "/big.mp4" else None)
            block = b"\0" * (1 << 20)
            for _ in range(VIRTUAL_BYTES // len(block)):
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _start(self, length: int | None) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "video/mp4")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def virtual_media() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), VirtualMediaHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def lifecycle_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("lifecycle")
    env = {
        "FERRY_ALLOW_PRIVATE_URLS": "1",
        "FERRY_RETENTION_SECONDS": str(RETENTION_SECONDS),
        "FERRY_JANITOR_INTERVAL_SECONDS": "0.5",
        "FERRY_IMPORT_STALL_SECONDS": str(STALL_SECONDS),
        "FERRY_IMPORT_MAX_DURATION_SECONDS": str(MAX_DURATION_SECONDS),
        "FERRY_IMPORTER_ACK_WAIT_SECONDS": "3",
        "FERRY_IMPORTER_HEARTBEAT_SECONDS": "1",
        "FERRY_WEBHOOK_RETRY_SCHEDULE": "0.5,1,2",
        "FERRY_GATEWAY_PORT": str(free_port()),
        "FERRY_S3_ENDPOINT": "",
    }
    with Stack(data_dir, env, stop_grace=5) as running:
        yield running


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[media.MediaServer]:
    directory = tmp_path_factory.mktemp("lifecycle-media")
    media.make_mp4(directory, name="short.mp4", seconds=1)
    media.make_mp4(directory, name="long.mp4", seconds=MAX_DURATION_SECONDS + 3)
    with media.serve_media(directory) as server:
        yield server


@pytest.fixture(scope="module")
def slow_clips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[media.MediaServer]:
    directory = tmp_path_factory.mktemp("lifecycle-slow")
    media.make_mp4(directory, name="slow.mp4", seconds=4, video_bitrate="2M")
    with media.serve_media(directory, throttle_bytes_per_second=100_000) as server:
        yield server


_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True, scope="module")
def close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def account_client(stack: Stack, credits: int = 1000) -> tuple[DevAccount, httpx.Client]:
    account = stack.create_account(f"life-{uuid.uuid4().hex[:8]}", credits)
    client = httpx.Client(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {account.api_key}"},
        timeout=15,
    )
    _CLIENTS.append(client)
    return account, client


def start(client: httpx.Client, url: str, **extra: Any) -> str:
    headers = extra.pop("headers", {})
    response = client.post("/import", json={"url": url, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["importId"]


def status_of(client: httpx.Client, import_id: str) -> dict[str, Any]:
    response = client.get("/import/status", params={"id": import_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for(client: httpx.Client, import_id: str, statuses: tuple[str, ...],
             timeout: float = 40) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = status_of(client, import_id)
        if status["status"] in statuses:
            return status
        assert time.monotonic() < deadline, f"{import_id} not {statuses}: {status}"
        time.sleep(0.2)


def held_credits(stack: Stack, account_id: str, timeout: float = 10) -> int:
    """Wait until the account holds nothing, returning what it still holds at the deadline."""
    deadline = time.monotonic() + timeout
    while (held := stack.get_account(account_id).held) and time.monotonic() < deadline:
        time.sleep(0.2)
    return held


def objects_of(stack: Stack, account_id: str, import_id: str) -> list[str]:
    client = Minio(stack.env["FERRY_S3_ENDPOINT"], access_key=stack.env["FERRY_S3_ACCESS_KEY"],
                   secret_key=stack.env["FERRY_S3_SECRET_KEY"], secure=False, region="us-east-1")
    prefix = f"{account_id}/{import_id}/"
    bucket = stack.env.get("FERRY_S3_BUCKET", "ferry-media")
    return [item.object_name for item in client.list_objects(bucket, prefix, recursive=True)]


def temp_files(stack: Stack, import_id: str) -> list[Path]:
    """Return the temporary files of one import (other tests' imports may run meanwhile)."""
    root = Path(stack.env["FERRY_DATA_DIR"]) / "importer-tmp"
    return [path for path in root.glob(f"{import_id}-*/**/*") if path.is_file()]


def temp_bytes(stack: Stack, import_id: str) -> int:
    total = 0
    for path in temp_files(stack, import_id):
        with contextlib.suppress(FileNotFoundError):  # yt-dlp renames parts as it goes
            total += os.stat(path).st_size
    return total


def test_retention_expires_media(lifecycle_stack, clips):
    account, client = account_client(lifecycle_stack)
    import_id = start(client, clips.url("short.mp4"))
    completed = wait_for(client, import_id, ("completed",))
    assert objects_of(lifecycle_stack, account.account_id, import_id)

    expired = wait_for(client, import_id, ("expired",), timeout=RETENTION_SECONDS + 10)

    assert "mediaUrl" not in expired
    assert "expiredAt" in expired
    assert expired["creditsUsed"] == completed["creditsUsed"]
    assert objects_of(lifecycle_stack, account.account_id, import_id) == []
    assert httpx.get(completed["mediaUrl"]).status_code != 200


def test_delete_completed_removes_media(lifecycle_stack, clips):
    account, client = account_client(lifecycle_stack)
    import_id = start(client, clips.url("short.mp4"))
    wait_for(client, import_id, ("completed",))

    first = client.delete("/import", params={"id": import_id})
    second = client.delete("/import", params={"id": import_id})

    assert first.status_code == 200, first.text
    assert first.json()["data"]["status"] == "expired"
    assert second.json()["data"]["status"] == "expired"
    assert objects_of(lifecycle_stack, account.account_id, import_id) == []


def test_cancel_during_download_leaves_nothing(
    lifecycle_stack, slow_clips, webhook_receiver: WebhookReceiver
):
    account, client = account_client(lifecycle_stack)
    hook = webhook_receiver.url()
    import_id = start(client, slow_clips.url("slow.mp4"), webhook_url=hook)
    deadline = time.monotonic() + 20
    while status_of(client, import_id).get("progress", {}).get("downloadedBytes", 0) == 0:
        assert time.monotonic() < deadline, status_of(client, import_id)
        time.sleep(0.1)
    assert temp_files(lifecycle_stack, import_id)

    response = client.delete("/import", params={"id": import_id})
    again = client.delete("/import", params={"id": import_id})

    assert response.json()["data"]["status"] == "cancelled"
    assert again.json()["data"]["status"] == "cancelled"
    assert held_credits(lifecycle_stack, account.account_id) == 0
    webhook = webhook_receiver.wait_for(hook, timeout=10)[0].json()
    assert webhook["type"] == "import.cancelled"
    assert webhook["status"] == "cancelled"
    time.sleep(2)  # let the worker's cleanup run
    assert temp_files(lifecycle_stack, import_id) == []
    assert objects_of(lifecycle_stack, account.account_id, import_id) == []
    assert status_of(client, import_id)["status"] == "cancelled"
    assert lifecycle_stack.get_account(account.account_id).balance == 1000


def test_cancel_queued_import(lifecycle_stack, slow_clips):
    account, client = account_client(lifecycle_stack)
    set_limits(lifecycle_stack, account.account_id, concurrent_imports=5)
    # Two slow imports take the importer's two job slots, so the third stays queued.
    busy = [start(client, slow_clips.url("slow.mp4")) for _ in range(2)]
    queued = start(client, slow_clips.url("slow.mp4"))
    assert status_of(client, queued)["status"] == "queued"

    response = client.delete("/import", params={"id": queued})
    for import_id in busy:
        client.delete("/import", params={"id": import_id})

    assert response.json()["data"]["status"] == "cancelled"
    assert held_credits(lifecycle_stack, account.account_id) == 0
    time.sleep(2)
    assert status_of(client, queued)["status"] == "cancelled"


def test_list_imports_pages_and_filters(lifecycle_stack, clips):
    account, client = account_client(lifecycle_stack)
    set_limits(lifecycle_stack, account.account_id, concurrent_imports=5)
    ids = [start(client, clips.url("short.mp4")) for _ in range(3)]
    client.delete("/import", params={"id": ids[1]})

    first = client.get("/imports", params={"limit": 2}).json()["data"]
    second = client.get("/imports", params={"limit": 2, "cursor": first["nextCursor"]}).json()
    cancelled = client.get("/imports", params={"status": "cancelled"}).json()["data"]
    future = client.get("/imports", params={"createdAfter": "2999-01-01T00:00:00Z"}).json()

    assert [item["importId"] for item in first["imports"]] == [ids[2], ids[1]]
    assert [item["importId"] for item in second["data"]["imports"]] == [ids[0]]
    assert second["data"]["nextCursor"] is None
    assert [item["importId"] for item in cancelled["imports"]] == [ids[1]]
    assert future["data"]["imports"] == []


def test_list_imports_rejects_bad_status(lifecycle_stack):
    _, client = account_client(lifecycle_stack)

    response = client.get("/imports", params={"status": "done"})

    assert response.status_code == 400
    assert "status 'done' is not valid" in response.json()["error"]


def test_idempotency_key_replay_creates_nothing(lifecycle_stack, clips):
    account, client = account_client(lifecycle_stack)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = start(client, clips.url("short.mp4"), headers=key)
    wait_for(client, first, ("completed",))
    balance = lifecycle_stack.get_account(account.account_id).balance

    replay = start(client, clips.url("short.mp4"), headers=key)
    other_body = client.post("/import", json={"url": clips.url("long.mp4")}, headers=key)
    other_account = account_client(lifecycle_stack)[1]
    other_import = start(other_account, clips.url("short.mp4"), headers=key)

    assert replay == first
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    assert other_import != first
    listed = client.get("/imports").json()["data"]["imports"]
    assert [item["importId"] for item in listed] == [first]
    assert lifecycle_stack.get_account(account.account_id).balance == balance


def set_limits(stack: Stack, account_id: str, **limits: int) -> None:
    with grpc.insecure_channel(stack.ledger_addr) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        stub.SetLimits(
            ledger_pb2.SetLimitsRequest(
                account_id=account_id, limits=ledger_pb2.LimitsUpdate(**limits)
            ),
            timeout=10,
        )


@pytest.mark.parametrize("path", ["/big.mp4", "/big-unsized.mp4"])
def test_virtual_2gb_file_fails_at_limit(lifecycle_stack, virtual_media, path):
    account, client = account_client(lifecycle_stack, credits=5000)
    set_limits(lifecycle_stack, account.account_id, max_file_megabytes=LIMIT_MEGABYTES)
    import_id = start(client, f"{virtual_media}{path}")

    peak = 0
    started = time.monotonic()
    deadline = started + 60
    while (status := status_of(client, import_id))["status"] not in ("failed", "completed"):
        peak = max(peak, temp_bytes(lifecycle_stack, import_id))
        assert time.monotonic() < deadline, status
        time.sleep(0.05)

    assert status["status"] == "failed"
    assert status["errorCode"] == "too_large"
    assert f"maximum file size of {LIMIT_MEGABYTES} MB" in status["message"]
    assert peak <= LIMIT_MEGABYTES * 10**6 + BLOCK_BYTES
    assert status["creditsUsed"] == 0
    assert held_credits(lifecycle_stack, account.account_id) == 0
    assert lifecycle_stack.get_account(account.account_id).balance == 5000
    assert temp_files(lifecycle_stack, import_id) == []


def test_long_media_fails_with_duration_limit(lifecycle_stack, clips):
    account, client = account_client(lifecycle_stack)
    import_id = start(client, clips.url("long.mp4"))

    status = wait_for(client, import_id, ("failed", "completed"))

    assert status["status"] == "failed"
    assert status["errorCode"] == "too_long"
    assert f"maximum duration of {MAX_DURATION_SECONDS} s" in status["message"]
    assert held_credits(lifecycle_stack, account.account_id) == 0


def test_stalled_download_fails(lifecycle_stack, virtual_media):
    account, client = account_client(lifecycle_stack)
    import_id = start(client, f"{virtual_media}/stall.mp4")

    status = wait_for(client, import_id, ("failed", "completed"), timeout=30)

    assert status["status"] == "failed"
    assert status["errorCode"] == "stalled"
    assert f"no bytes arrived for {STALL_SECONDS} s" in status["message"]
    assert held_credits(lifecycle_stack, account.account_id) == 0
    assert temp_files(lifecycle_stack, import_id) == []


def test_killed_importer_leaves_no_temp_files(lifecycle_stack, slow_clips):
    account, client = account_client(lifecycle_stack)
    import_id = start(client, slow_clips.url("slow.mp4"))
    deadline = time.monotonic() + 20
    while not temp_files(lifecycle_stack, import_id):
        assert time.monotonic() < deadline, "the download never wrote a file"
        time.sleep(0.1)

    lifecycle_stack.kill_service("importer")
    assert temp_files(lifecycle_stack, import_id)  # what the crash left behind
    lifecycle_stack.restart_service("importer")
    status = wait_for(client, import_id, ("completed", "failed"), timeout=60)

    assert status["status"] == "completed"
    assert temp_files(lifecycle_stack, import_id) == []
