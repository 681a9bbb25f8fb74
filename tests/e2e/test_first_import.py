"""A client's first imports, through the REST API of a running stack."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio
from standardwebhooks.webhooks import Webhook

from tests import media
from tests.e2e.conftest import WebhookReceiver
from tools.devstack import DevAccount, Stack

pytestmark = pytest.mark.e2e

INITIAL_CREDITS = 1000
# Throttled so that one download of the large file takes about four seconds.
SLOW_BYTES_PER_SECOND = 400_000
FINAL_STATUSES = ("completed", "failed")


@dataclass(frozen=True)
class FinishedImport:
    account: DevAccount
    import_id: str
    status: dict[str, Any]
    webhook_url: str


def api_client(stack: Stack, api_key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=10)


def start_import(client: httpx.Client, **body: Any) -> str:
    response = client.post("/import", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["importId"]


def get_status(client: httpx.Client, import_id: str) -> dict[str, Any]:
    response = client.get("/import/status", params={"id": import_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for_status(
    client: httpx.Client, import_id: str, statuses: tuple[str, ...] = FINAL_STATUSES,
    timeout: float = 30,
) -> dict[str, Any]:
    """Poll the status endpoint until the import reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        status = get_status(client, import_id)
        if status["status"] in statuses:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"import {import_id} not {'/'.join(statuses)} after "
                                 f"{timeout} s: {status}")
        time.sleep(0.2)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


def wait_for_settlement(stack: Stack, account_id: str, timeout: float = 10) -> Any:
    """Poll the ledger until none of the account's credits are held, then return the account."""
    wait_until(lambda: stack.get_account(account_id).held == 0, timeout,
               f"settlement of account {account_id}")
    return stack.get_account(account_id)


def stored_object(stack: Stack, s3_client: Minio, account_id: str, import_id: str) -> bytes:
    """Return the bytes of the one object stored for an import."""
    bucket = stack.env.get("FERRY_S3_BUCKET", "ferry-media")
    prefix = f"{account_id}/{import_id}/"
    objects = list(s3_client.list_objects(bucket, prefix=prefix, recursive=True))
    assert len(objects) == 1, [item.object_name for item in objects]

    response = s3_client.get_object(bucket, objects[0].object_name)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def probe(data: bytes, directory: Path) -> dict[str, Any]:
    """Return ffprobe's description of a media file: its "format" and its "streams"."""
    path = directory / "downloaded.media"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def hls_import(
    stack: Stack,
    create_account: Callable[..., DevAccount],
    media_server: media.MediaServer,
    webhook_receiver: WebhookReceiver,
) -> FinishedImport:
    """Import the 720p rendition of the HLS stream, with a webhook, and wait until it ends."""
    account = create_account(INITIAL_CREDITS)
    webhook_url = webhook_receiver.url()
    with api_client(stack, account.api_key) as client:
        import_id = start_import(client, url=media_server.url("hls/master.m3u8"),
                                 format="720p", webhook_url=webhook_url)
        status = wait_for_status(client, import_id)
    return FinishedImport(account, import_id, status, webhook_url)


@pytest.fixture(scope="module")
def hls_media(hls_import: FinishedImport) -> bytes:
    assert hls_import.status["status"] == "completed", hls_import.status
    return httpx.get(hls_import.status["mediaUrl"], timeout=10).content


def test_hls_720p_completes(hls_import: FinishedImport):
    assert hls_import.status["status"] == "completed", hls_import.status


def test_hls_720p_is_1280x720_mp4_with_audio(hls_media: bytes, tmp_path: Path):
    description = probe(hls_media, tmp_path)
    video = [stream for stream in description["streams"] if stream["codec_type"] == "video"]
    audio = [stream for stream in description["streams"] if stream["codec_type"] == "audio"]

    assert "mp4" in description["format"]["format_name"].split(",")
    assert len(video) == 1
    assert (video[0]["width"], video[0]["height"]) == (1280, 720)
    assert len(audio) == 1


def test_hls_media_url_returns_stored_bytes(
    hls_import: FinishedImport, hls_media: bytes, stack: Stack, s3_client: Minio
):
    stored = stored_object(stack, s3_client, hls_import.account.account_id, hls_import.import_id)

    assert hls_media == stored


def test_hls_credits_charged_by_size(
    hls_import: FinishedImport, hls_media: bytes, stack: Stack
):
    expected = math.ceil(len(hls_media) / 10**6)

    account = wait_for_settlement(stack, hls_import.account.account_id)

    assert hls_import.status["creditsUsed"] == expected
    assert account.balance == INITIAL_CREDITS - expected


def test_hls_webhook_delivered_once_signed(
    hls_import: FinishedImport, webhook_receiver: WebhookReceiver
):
    delivered = webhook_receiver.wait_for(hls_import.webhook_url, timeout=15)
    payload = Webhook(hls_import.account.webhook_secret).verify(
        delivered[0].body, delivered[0].headers
    )

    assert len(delivered) == 1
    assert payload["importId"] == hls_import.import_id
    assert payload["status"] == "completed"
    assert payload["mediaUrl"] == hls_import.status["mediaUrl"]


def test_direct_mp4_quality_medium_completes(
    stack: Stack, create_account: Callable[..., DevAccount], media_server: media.MediaServer,
    media_dir: Path, tmp_path: Path,
):
    account = create_account(INITIAL_CREDITS)
    with api_client(stack, account.api_key) as client:
        import_id = start_import(client, url=media_server.url(media_dir / "clip.mp4"),
                                 quality="medium")
        status = wait_for_status(client, import_id)
    assert status["status"] == "completed", status

    description = probe(httpx.get(status["mediaUrl"], timeout=10).content, tmp_path)

    assert {stream["codec_type"] for stream in description["streams"]} == {"video", "audio"}


@dataclass(frozen=True)
class ErrorCase:
    method: str
    path: str
    status: int
    code: str
    api_key: str = "account"
    body: Any = None
    content: bytes | None = None


def error_cases(media_url: str, foreign_import_id: str) -> dict[str, ErrorCase]:
    unknown_id = "imp_01jzzzzzzzzzzzzzzzzzzzzzzz"
    return {
        "no key": ErrorCase("POST", "/import", 401, "unauthenticated", api_key="",
                            body={"url": media_url}),
        "wrong key": ErrorCase("POST", "/import", 401, "unauthenticated",
                               api_key="fry_not-a-key", body={"url": media_url}),
        "missing url": ErrorCase("POST", "/import", 400, "invalid_request", body={}),
        "malformed json": ErrorCase("POST", "/import", 400, "invalid_json",
                                    content=b'{"url": '),
        "ftp url": ErrorCase("POST", "/import", 400, "invalid_url",
                             body={"url": "ftp://127.0.0.1/clip.mp4"}),
        "bad selector": ErrorCase("POST", "/import", 400, "invalid_request",
                                  body={"url": media_url, "format": "best[height<=720"}),
        "unknown id": ErrorCase("GET", f"/import/status?id={unknown_id}", 404, "not_found"),
        "other account": ErrorCase("GET", f"/import/status?id={foreign_import_id}", 404,
                                   "not_found"),
    }


@pytest.mark.parametrize("case", ["no key", "wrong key", "missing url", "malformed json",
                                  "ftp url", "bad selector", "unknown id", "other account"])
def test_api_error_envelope(
    case: str, stack: Stack, create_account: Callable[..., DevAccount],
    media_server: media.MediaServer, media_dir: Path, hls_import: FinishedImport,
):
    expected = error_cases(media_server.url(media_dir / "clip.mp4"), hls_import.import_id)[case]
    account = create_account(INITIAL_CREDITS)
    api_key = account.api_key if expected.api_key == "account" else expected.api_key
    headers = {"Content-Type": "application/json"} if expected.content is not None else {}

    with api_client(stack, api_key) as client:
        response = client.request(expected.method, expected.path, json=expected.body,
                                  content=expected.content, headers=headers)
    body = response.json()

    assert response.status_code == expected.status, body
    assert body["success"] is False
    assert isinstance(body["error"], str)
    assert body["code"] == expected.code, body


@pytest.fixture(scope="module")
def slow_media_server(media_dir: Path) -> Iterator[media.MediaServer]:
    # About 1.8 MB: two credits, and a download long enough to interrupt.
    media.make_mp4(media_dir, name="large.mp4", size="640x360", video_bitrate="4M")
    with media.serve_media(media_dir, throttle_bytes_per_second=SLOW_BYTES_PER_SECOND) as server:
        yield server


def test_importer_killed_mid_download_recovers(
    stack: Stack, create_account: Callable[..., DevAccount], s3_client: Minio,
    slow_media_server: media.MediaServer, media_dir: Path,
):
    source = (media_dir / "large.mp4").read_bytes()
    account = create_account(INITIAL_CREDITS)
    with api_client(stack, account.api_key) as client:
        import_id = start_import(client, url=slow_media_server.url(media_dir / "large.mp4"),
                                 format="best")
        wait_until(lambda: slow_media_server.bytes_sent["/large.mp4"] > len(source) // 3,
                   timeout=20, what="a third of the download")
        interrupted = get_status(client, import_id)

        stack.kill_service("importer")
        stack.restart_service("importer")
        status = wait_for_status(client, import_id, timeout=45)

    assert interrupted["status"] == "importing"
    assert status["status"] == "completed", status

    stored = stored_object(stack, s3_client, account.account_id, import_id)
    downloaded = httpx.get(status["mediaUrl"], timeout=10).content
    settled = wait_for_settlement(stack, account.account_id)

    assert downloaded == stored
    assert stored == source
    assert status["creditsUsed"] == math.ceil(len(source) / 10**6)
    assert settled.balance == INITIAL_CREDITS - status["creditsUsed"]
