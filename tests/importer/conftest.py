"""Fixtures for the importer tests: generated media, a local media server, a stand-in ledger."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from services.shared import rpc
from services.shared.errors import InsufficientCredits, NotFound


def _ffmpeg(*arguments: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments],
        check=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a directory with clip.mp4 (2 s, H.264 and AAC), silent.mp4 and notes.txt."""
    directory = tmp_path_factory.mktemp("media")
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "32k",
        "-movflags", "+faststart", str(directory / "clip.mp4"),
    )
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", str(directory / "silent.mp4"),
    )
    (directory / "notes.txt").write_text("not media\n")
    return directory


SLOW_PREFIX = "/slow/"
SLOW_CHUNK_BYTES = 2048
SLOW_CHUNK_DELAY_SECONDS = 0.15


class _MediaHandler(http.server.SimpleHTTPRequestHandler):
    """Serve files; under /slow/ the body trickles out at about 13 KB/s."""

    def translate_path(self, path: str) -> str:
        if path.startswith(SLOW_PREFIX):
            path = path[len(SLOW_PREFIX) - 1 :]
        return super().translate_path(path)

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        if not self.path.startswith(SLOW_PREFIX):
            super().copyfile(source, outputfile)
            return
        try:
            while chunk := source.read(SLOW_CHUNK_BYTES):
                outputfile.write(chunk)
                outputfile.flush()
                time.sleep(SLOW_CHUNK_DELAY_SECONDS)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the downloader went away

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def media_url(media_dir: Path) -> Iterator[str]:
    """Serve `media_dir` over HTTP on 127.0.0.1 and return its base URL."""
    handler = functools.partial(_MediaHandler, directory=str(media_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class FakeLedger(ledger_pb2_grpc.LedgerServiceServicer):
    """HoldCredits and ReleaseCredits over dicts, with the ledger's hold rules."""

    balances: dict[str, int] = field(default_factory=dict)
    holds: dict[str, ledger_pb2.Hold] = field(default_factory=dict)

    async def HoldCredits(
        self, request: ledger_pb2.HoldCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        if request.account_id not in self.balances:
            raise NotFound(f"account '{request.account_id}' not found")
        hold = self.holds.setdefault(
            request.import_id,
            ledger_pb2.Hold(
                import_id=request.import_id,
                account_id=request.account_id,
                status=ledger_pb2.HOLD_STATUS_HELD,
            ),
        )
        missing = request.credits - hold.credits
        if hold.status == ledger_pb2.HOLD_STATUS_HELD and missing > 0:
            balance = self.balances[request.account_id]
            if balance < missing:
                raise InsufficientCredits(
                    f"import needs {request.credits} credits but the balance is {balance}; "
                    "add credits and retry"
                )
            self.balances[request.account_id] -= missing
            hold.credits = request.credits
        return ledger_pb2.Hold(
            import_id=hold.import_id,
            account_id=hold.account_id,
            status=hold.status,
            credits=hold.credits,
            balance=self.balances[request.account_id],
        )

    async def ReleaseCredits(
        self, request: ledger_pb2.ReleaseCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        hold = self.holds[request.import_id]
        if hold.status == ledger_pb2.HOLD_STATUS_HELD:
            self.balances[hold.account_id] += hold.credits
            hold.status = ledger_pb2.HOLD_STATUS_RELEASED
        return hold


@dataclass
class LedgerServer:
    address: str
    ledger: FakeLedger


@pytest.fixture
async def ledger_server() -> AsyncIterator[LedgerServer]:
    """Run a stand-in LedgerService on a free port (the real ledger is a separate service)."""
    ledger = FakeLedger()
    server, _ = rpc.create_server()
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(ledger, server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    yield LedgerServer(f"127.0.0.1:{port}", ledger)
    await server.stop(None)
