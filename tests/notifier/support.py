"""Helpers for the notifier tests: a webhook receiver, a real ledger, the running service,
and events to publish."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2
from ferry.notifier.v1 import notifier_pb2, notifier_pb2_grpc
from google.protobuf import timestamp_pb2
from nats.js import JetStreamContext
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from services.ledger import accounts, database, schema
from services.notifier.config import NotifierSettings
from services.shared import bus
from services.shared.errors import NotFound

# A response script entry: an HTTP status, or HANG to hold the request until teardown.
HANG = "hang"


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    # time.monotonic() when the body had been read.
    received_at: float = 0.0


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that responds with each entry of `script` in turn.

    Once the script runs out, the last entry is repeated.
    """

    script: list[int | str]
    response_body: bytes = b""
    requests: list[ReceivedRequest] = field(default_factory=list)
    connections: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def next_answer(self) -> int | str:
        index = min(len(self.requests) - 1, len(self.script) - 1)
        return self.script[index]


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.requests.append(
                ReceivedRequest(self.path, headers, body, received_at=time.monotonic())
            )

            answer = receiver.next_answer()
            if answer == HANG:
                receiver.released.wait(30)
                return
            self.send_response(int(answer))
            if answer in (301, 302, 307, 308):
                self.send_header("location", "/redirected")
            self.send_header("content-length", str(len(receiver.response_body)))
            self.end_headers()
            self.wfile.write(receiver.response_body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def verify_request(self, request: object, client_address: object) -> bool:
        self.receiver.connections += 1
        return True


def start_receiver(script: list[int | str], response_body: bytes = b"") -> Receiver:
    """Serve a Receiver on a free port of 127.0.0.1 in a background thread."""
    receiver = Receiver(script=script, response_body=response_body)
    server = _CountingServer(("127.0.0.1", 0), _handler_for(receiver))
    server.receiver = receiver
    receiver.server = server
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    """Release hanging requests and close the server."""
    receiver.released.set()
    assert receiver.server is not None
    receiver.server.shutdown()
    receiver.server.server_close()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@dataclass
class LedgerServer:
    """A real ledger on SQLite, served over gRPC."""

    engine: Engine
    address: str

    def add_account(self, previous_secret: str | None = None) -> tuple[str, str]:
        """Create an account and return its id and current webhook secret.

        With `previous_secret`, the account also has that older secret, as after a rotation.
        """
        created = accounts.create_account(self.engine, "notifier test", 10)
        account_id = created.account.account_id
        if previous_secret is not None:
            with database.write_transaction(self.engine) as connection:
                connection.execute(
                    insert(schema.webhook_secrets).values(
                        account_id=account_id,
                        secret=previous_secret,
                        created_at=datetime.now(UTC) - timedelta(days=1),
                    )
                )
        return account_id, created.webhook_secret


@dataclass
class RunningNotifier:
    settings: NotifierSettings
    stub: notifier_pb2_grpc.NotifierServiceStub


DELIVERED = notifier_pb2.DELIVERY_OUTCOME_DELIVERED
RETRYING = notifier_pb2.DELIVERY_OUTCOME_RETRYING
FAILED = notifier_pb2.DELIVERY_OUTCOME_FAILED


def make_event(
    account_id: str, webhook_url: str, *, completed: bool = True
) -> events_pb2.ImportEvent:
    import_id = f"imp_{uuid.uuid4().hex[:16]}"
    status = "completed" if completed else "failed"
    occurred_at = timestamp_pb2.Timestamp()
    occurred_at.FromDatetime(datetime(2025, 3, 1, 12, 30, 5, 250000, tzinfo=UTC))
    record = importer_pb2.Import(
        import_id=import_id,
        account_id=account_id,
        status=importer_pb2.IMPORT_STATUS_COMPLETED
        if completed
        else importer_pb2.IMPORT_STATUS_FAILED,
        url="https://media.example/clip",
        webhook_url=webhook_url,
        media_url="https://s3.example/media/clip.mp4?sig=1" if completed else "",
        credits_used=3 if completed else 0,
        message="Import completed" if completed else "download failed: HTTP 404",
    )
    record.created_at.FromDatetime(datetime(2025, 3, 1, 12, 29, 58, tzinfo=UTC))
    record.started_at.FromDatetime(datetime(2025, 3, 1, 12, 29, 59, 500000, tzinfo=UTC))
    record.finished_at.CopyFrom(occurred_at)
    if completed:
        record.media.title = "A clip"
        record.media.duration_seconds = 12.5
        record.expires_at.FromDatetime(datetime(2025, 3, 8, 12, 30, 5, 250000, tzinfo=UTC))
    else:
        record.error_code = "download_failed"
    return events_pb2.ImportEvent(
        event_id=f"{import_id}.{status}",
        type=events_pb2.EVENT_TYPE_IMPORT_COMPLETED
        if completed
        else events_pb2.EVENT_TYPE_IMPORT_FAILED,
        occurred_at=occurred_at,
        record=record,
    )


async def publish(js: JetStreamContext, event: events_pb2.ImportEvent, msg_id: bool = True) -> None:
    subject = (
        bus.EventType.IMPORT_COMPLETED.subject
        if event.type == events_pb2.EVENT_TYPE_IMPORT_COMPLETED
        else bus.EventType.IMPORT_FAILED.subject
    )
    headers = {"Nats-Msg-Id": event.event_id} if msg_id else None
    await js.publish(subject, event.SerializeToString(), headers=headers)


async def list_attempts(
    notifier: RunningNotifier, event: events_pb2.ImportEvent
) -> list[notifier_pb2.DeliveryAttempt]:
    request = notifier_pb2.ListDeliveriesRequest(
        account_id=event.record.account_id, import_id=event.record.import_id
    )
    try:
        response = await notifier.stub.ListDeliveries(request, timeout=5)
    except NotFound:
        return []
    return list(response.attempts)


async def wait_for_attempts(
    notifier: RunningNotifier,
    event: events_pb2.ImportEvent,
    done: Callable[[list[notifier_pb2.DeliveryAttempt]], bool],
    within_seconds: float = 20,
) -> list[notifier_pb2.DeliveryAttempt]:
    deadline = time.monotonic() + within_seconds
    while True:
        attempts = await list_attempts(notifier, event)
        if done(attempts):
            return attempts
        if time.monotonic() > deadline:
            pytest.fail(
                f"delivery log of {event.record.import_id} after {within_seconds} s: {attempts}"
            )
        await asyncio.sleep(0.05)


def settled(attempts: list[notifier_pb2.DeliveryAttempt]) -> bool:
    return bool(attempts) and attempts[-1].outcome in (DELIVERED, FAILED)
