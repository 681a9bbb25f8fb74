"""Helpers for the notifier tests: a webhook receiver, a real ledger and the running service."""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ferry.notifier.v1 import notifier_pb2_grpc
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from services.ledger import accounts, database, schema
from services.notifier.config import NotifierSettings

# A response script entry: an HTTP status, or HANG to hold the request until teardown.
HANG = "hang"


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


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
            receiver.requests.append(ReceivedRequest(self.path, headers, body))

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
