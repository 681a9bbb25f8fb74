"""The whole stack for end-to-end tests: its own nats-server, S3 and the four services."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from minio import Minio

from tests import media
from tools.devstack import DevAccount, Stack
from tools.launch import free_port

# Short enough that a job of a killed importer is redelivered within seconds.
IMPORTER_ACK_WAIT_SECONDS = 3
IMPORTER_HEARTBEAT_SECONDS = 1
WEBHOOK_RETRY_SCHEDULE = "0.5,1,2"


METADATA_WAIT_SECONDS = 9


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    env = {
        "FERRY_ALLOW_PRIVATE_URLS": "1",
        "FERRY_IMPORTER_ACK_WAIT_SECONDS": str(IMPORTER_ACK_WAIT_SECONDS),
        "FERRY_IMPORTER_HEARTBEAT_SECONDS": str(IMPORTER_HEARTBEAT_SECONDS),
        "FERRY_WEBHOOK_RETRY_SCHEDULE": WEBHOOK_RETRY_SCHEDULE,
        "FERRY_LOG_LEVEL": "DEBUG",
        # The longest wait the gRPC deadline allows, so a loaded CI machine still returns
        # metadata synchronously where the tests expect it.
        "FERRY_METADATA_WAIT_SECONDS": str(METADATA_WAIT_SECONDS),
        "FERRY_GATEWAY_PORT": str(free_port()),
        # The stack starts its own S3 server even when the shell names another one.
        "FERRY_S3_ENDPOINT": "",
    }
    with Stack(data_dir, env, stop_grace=5) as running:
        yield running


@pytest.fixture(scope="session")
def create_account(stack: Stack) -> Callable[..., DevAccount]:
    """Return a factory that creates an account with `credits` and returns its id and keys."""

    def create(credits: int = 1000) -> DevAccount:
        return stack.create_account(f"e2e-{uuid.uuid4().hex[:8]}", credits)

    return create


@pytest.fixture(scope="session")
def s3_client(stack: Stack) -> Minio:
    return Minio(
        stack.env["FERRY_S3_ENDPOINT"],
        access_key=stack.env["FERRY_S3_ACCESS_KEY"],
        secret_key=stack.env["FERRY_S3_SECRET_KEY"],
        secure=False,
        region=stack.env.get("FERRY_S3_REGION", "us-east-1"),
    )


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("media")
    media.make_mp4(directory)
    media.make_hls(directory)
    return directory


@pytest.fixture(scope="session")
def media_server(media_dir: Path) -> Iterator[media.MediaServer]:
    with media.serve_media(media_dir) as server:
        yield server


@dataclass
class WebhookRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST it receives and responds with 204 No Content."""

    requests: list[WebhookRequest] = field(default_factory=list)
    base_url: str = ""
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def url(self) -> str:
        """Return a URL of its own for one test, so tests don't see each other's webhooks."""
        return f"{self.base_url}/hooks/{uuid.uuid4().hex}"

    def record(self, request: WebhookRequest) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def received(self, url: str) -> list[WebhookRequest]:
        path = url.removeprefix(self.base_url)
        with self._arrived:
            return [request for request in self.requests if request.path == path]

    def wait_for(self, url: str, timeout: float) -> list[WebhookRequest]:
        """Wait until at least one request for `url` arrived and return them all."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not self.received(url):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no webhook arrived at {url} within {timeout} s")
                self._arrived.wait(remaining)
        return self.received(url)


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            headers = {key.lower(): value for key, value in self.headers.items()}
            receiver.record(WebhookRequest(self.path, headers, body))
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
