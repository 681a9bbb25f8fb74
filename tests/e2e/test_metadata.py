"""GET and POST /metadata, their basic forms and status routes, through the REST API."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.importer.formats import height_selector
from tests import sources
from tests.e2e.conftest import METADATA_WAIT_SECONDS, WebhookReceiver
from tests.e2e.test_first_import import api_client
from tools.devstack import DevAccount, Stack

pytestmark = pytest.mark.e2e

# Longer than the stack's FERRY_METADATA_WAIT_SECONDS, so the response is a job id.
SLOW_PAGE_DELAY_SECONDS = METADATA_WAIT_SECONDS + 2
POLL_TIMEOUT_SECONDS = 60
BASIC_FIELDS = {"metadataId", "jobId", "status", "url", "title", "duration", "thumbnail",
                "message", "createdAt", "startedAt", "finishedAt"}


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sources.SourceServer]:
    directory = sources.make_sources(tmp_path_factory.mktemp("metadata-sources"))
    with sources.serve_sources(directory) as server:
        yield server


@pytest.fixture(scope="module")
def client(stack: Stack, create_account: Callable[..., DevAccount]) -> Iterator[httpx.Client]:
    account = create_account(100)
    with api_client(stack, account.api_key) as api:
        api.timeout = httpx.Timeout(30)
        yield api


@pytest.fixture(scope="module")
def slow_redirect(source_server: sources.SourceServer) -> Iterator[str]:
    """Return a URL that responds after a delay with a redirect to the HLS master playlist."""
    target = source_server.url("hls/master.m3u8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(SLOW_PAGE_DELAY_SECONDS)
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow/master.m3u8"
    server.shutdown()
    server.server_close()


def finished_metadata(client: httpx.Client, route: str, response: httpx.Response
                      ) -> dict[str, Any]:
    """Return the job data of a 200 response, or poll the status route after a 202."""
    assert response.status_code in (200, 202), response.text
    data = response.json()["data"]
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while data["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, data
        time.sleep(0.3)
        polled = client.get(f"{route}/status", params={"id": data["metadataId"]})
        assert polled.status_code == 200, polled.text
        data = polled.json()["data"]
    return data


def test_metadata_hls_lists_real_presets(client: httpx.Client, source_server):
    url = source_server.url("hls/master.m3u8")

    data = finished_metadata(client, "/metadata", client.get("/metadata", params={"url": url}))
    presets = {preset["preset"]: preset for preset in data["presets"]}

    assert data["status"] == "completed", data
    assert data["title"] == "master"
    assert data["duration"] == pytest.approx(sources.CLIP_SECONDS, abs=0.5)
    assert "thumbnail" in data
    assert list(presets) == ["1080p", "720p", "360p", "audio only"]
    for name, height in (("1080p", 1080), ("720p", 720), ("360p", 360)):
        assert presets[name]["height"] == height
        assert presets[name]["selector"] == height_selector(height)
        assert presets[name]["ext"] == "mp4"
        assert presets[name]["vcodec"].startswith("avc1")
    assert presets["audio only"]["selector"] == "ba/b"
    assert presets["audio only"]["ext"] == "m4a"
    assert presets["audio only"]["height"] is None


def test_metadata_post_dash_estimates_cost(client: httpx.Client, source_server):
    url = source_server.url("dash/manifest.mpd")

    data = finished_metadata(client, "/metadata", client.post("/metadata", json={"url": url}))
    presets = {preset["preset"]: preset for preset in data["presets"]}

    assert data["status"] == "completed", data
    assert list(presets) == ["360p", "audio only"]
    # The 360p preset falls back to the tallest representation below it.
    assert presets["360p"]["height"] == 240
    assert presets["360p"]["acodec"].startswith("mp4a")
    for preset in presets.values():
        size = preset["estimatedSize"]
        assert size > 0
        assert preset["estimatedCredits"] == math.ceil(size / 10**6)
    # Bitrate x duration: 64 kbit/s of audio for 3 s.
    assert presets["audio only"]["estimatedSize"] == pytest.approx(64_000 / 8 * 3, rel=0.1)


def test_metadata_direct_file_probed(client: httpx.Client, source_server):
    url = source_server.url("clip.mp4")
    size = (source_server.directory / "clip.mp4").stat().st_size

    data = finished_metadata(client, "/metadata", client.get("/metadata", params={"url": url}))
    names = [preset["preset"] for preset in data["presets"]]
    video = data["presets"][0]

    assert data["status"] == "completed", data
    assert data["duration"] == pytest.approx(sources.CLIP_SECONDS, abs=0.1)
    # A 240p file is the "360p" preset: the tallest height no higher than 360.
    assert names == ["360p", "audio only"]
    assert video["height"] == 240
    assert video["width"] == 320
    assert video["vcodec"] == "h264"
    assert video["acodec"] == "aac"
    assert video["estimatedSize"] == size
    assert video["estimatedCredits"] == math.ceil(size / 10**6)


def test_metadata_basic_has_three_fields(client: httpx.Client, source_server):
    url = source_server.url("hls/master.m3u8")

    response = client.get("/metadata/basic", params={"url": url})
    data = finished_metadata(client, "/metadata/basic", response)

    assert data["status"] == "completed", data
    assert set(data) <= BASIC_FIELDS
    assert data["title"] == "master"
    assert data["duration"] == pytest.approx(sources.CLIP_SECONDS, abs=0.5)


def test_metadata_basic_status_separate(client: httpx.Client, source_server):
    url = source_server.url("tone.m4a")
    response = client.post("/metadata/basic", json={"url": url})
    job_id = response.json()["data"]["metadataId"]

    basic = client.get("/metadata/basic/status", params={"id": job_id})
    full = client.get("/metadata/status", params={"id": job_id})

    assert basic.status_code == 200, basic.text
    assert full.status_code == 404, full.text
    assert full.json()["code"] == "not_found"


def test_metadata_slow_source_answers_job_id(client: httpx.Client, slow_redirect: str):
    response = client.get("/metadata", params={"url": slow_redirect})
    pending = response.json()["data"]

    assert response.status_code == 202, response.text
    assert pending["status"] in ("queued", "processing")
    assert f"/metadata/status?id={pending['metadataId']}" in pending["message"]
    assert pending["jobId"] == pending["metadataId"]

    data = finished_metadata(client, "/metadata", response)

    assert data["status"] == "completed", data
    assert [preset["preset"] for preset in data["presets"]][0] == "1080p"


def test_metadata_webhook_signed(
    client: httpx.Client, source_server, webhook_receiver: WebhookReceiver, stack: Stack,
    create_account: Callable[..., DevAccount],
):
    account = create_account(100)
    hook = webhook_receiver.url()
    with api_client(stack, account.api_key) as own:
        own.timeout = httpx.Timeout(30)
        response = own.post("/metadata", json={"url": source_server.url("muxed/master.m3u8"),
                                               "webhookUrl": hook})
        job_id = response.json()["data"]["metadataId"]

    received = webhook_receiver.wait_for(hook, timeout=POLL_TIMEOUT_SECONDS)
    body = received[0].json()

    assert len(received) == 1
    assert body["type"] == "metadata.completed"
    assert body["jobId"] == job_id
    assert body["status"] == "completed"
    assert body["result"]["metadataId"] == job_id
    assert [preset["preset"] for preset in body["result"]["presets"]] == ["360p", "audio only"]
    assert received[0].headers["webhook-id"] == f"{job_id}.completed"
    Webhook(account.webhook_secret).verify(received[0].body, received[0].headers)


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("no-media.html", 404, "no_media", "no media found at this URL"),
        ("missing.mp4", 404, "source_not_found", "the source answered HTTP 404"),
        ("playlist.html", 400, "playlist_unsupported", "playlists are not supported"),
    ],
)
def test_metadata_source_errors(
    client: httpx.Client, source_server, path: str, status: int, code: str, message: str
):
    response = client.get("/metadata", params={"url": source_server.url(path)})
    body = response.json()

    assert response.status_code == status, response.text
    assert body["success"] is False
    assert body["code"] == code
    assert message in body["error"]
    assert body["details"]["metadataId"].startswith("meta_")


def test_metadata_unreachable_url(client: httpx.Client, tmp_path: Path):
    # A port nothing listens on: bind one, then close it.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()

    response = client.post("/metadata/basic", json={"url": f"http://127.0.0.1:{port}/a.mp4"})
    body = response.json()

    assert response.status_code == 400, response.text
    assert body["code"] == "unreachable_url"
    assert "could not reach the source" in body["error"]


@pytest.mark.parametrize(
    ("method", "route", "kwargs", "status", "code"),
    [
        ("GET", "/metadata", {}, 400, "invalid_request"),
        ("POST", "/metadata", {"json": {"url": 5}}, 400, "invalid_request"),
        ("POST", "/metadata/basic", {"content": b"{"}, 400, "invalid_json"),
        ("GET", "/metadata", {"params": {"url": "ftp://example.com/a.mp4"}}, 400, "invalid_url"),
        ("GET", "/metadata/status", {}, 400, "invalid_request"),
        ("GET", "/metadata/status", {"params": {"id": "meta_nope"}}, 404, "not_found"),
    ],
)
def test_metadata_bad_requests(
    client: httpx.Client, method: str, route: str, kwargs: dict, status: int, code: str
):
    response = client.request(method, route, **kwargs)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
