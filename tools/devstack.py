"""Run the whole Ferry stack on one machine: nats-server, an S3 endpoint and the four services.

`python -m tools.devstack` (what `make run` calls) starts it in the foreground, creates a
development account and prints how to call the API; the end-to-end tests use `Stack`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import NamedTuple

import grpc
import httpx
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tools import launch
from tools.launch import LaunchError, Managed

logger = logging.getLogger(__name__)

# Start order; the stack stops in the reverse order.
SERVICES = ("ledger", "importer", "notifier", "gateway")
# Prefix of each gRPC service's FERRY_<NAME>_HOST, _GRPC_PORT and _ADDR variables.
GRPC_PREFIXES = {
    "ledger": "FERRY_LEDGER",
    "importer": "FERRY_IMPORTER",
    "notifier": "FERRY_NOTIFIER",
}
DEFAULT_GATEWAY_PORT = 8000
DEV_ACCOUNT_CREDITS = 1000
LOG_TAIL_LINES = 30
_CALL_TIMEOUT_SECONDS = 10


class DevAccount(NamedTuple):
    account_id: str
    api_key: str
    webhook_secret: str


class Stack:
    """The stack's processes, each started with the same environment and logging to a file.

    `env` entries override the current environment. All state goes under `data_dir`, and
    each process logs to `<data_dir>/logs/<name>.log`.
    """

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        ready_timeout: float = 60,
        stop_grace: float = 10,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.env: dict[str, str] = {**os.environ, **(env or {})}
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.processes: dict[str, Managed] = {}
        self.metrics_ports: dict[str, int] = {}

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env['FERRY_GATEWAY_PORT']}"

    def metrics_url(self, name: str) -> str:
        """Return the URL of a service's Prometheus metrics."""
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    @property
    def ledger_addr(self) -> str:
        return self.env["FERRY_LEDGER_ADDR"]

    def start(self) -> Stack:
        """Start every process and wait until each one is ready. On failure, stop them all."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.env["FERRY_DATA_DIR"] = str(self.data_dir)
            self._start_nats()
            self._start_s3()
            self._assign_ports()

            for name in SERVICES:
                self._spawn(name)
            for name in SERVICES:
                self._wait_ready(name)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the services together, then S3 and NATS: SIGTERM, and SIGKILL after the grace."""
        services = [self.processes[name] for name in reversed(SERVICES) if name in self.processes]
        _stop_together(services, self.stop_grace)
        for name in ("s3", "nats"):
            if name in self.processes:
                self.processes[name].stop(self.stop_grace)

    def stop_service(self, name: str) -> None:
        """Stop one service with SIGTERM, or SIGKILL when it outlives the grace period."""
        self._service(name).stop(self.stop_grace)

    def kill_service(self, name: str) -> None:
        """Kill one service with SIGKILL, as a crash would."""
        logger.info("killing %s (pid %d)", name, self._service(name).process.pid)
        self._service(name).kill()

    def restart_service(self, name: str) -> None:
        """Stop one service if it still runs, start it again and wait until it is ready."""
        self.stop_service(name)
        self._spawn(name)
        self._wait_ready(name)

    def exited(self) -> str | None:
        """Return the name of a process that has exited, or None while all of them run."""
        for name, managed in self.processes.items():
            if managed.process.poll() is not None:
                return name
        return None

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        """Return the last `lines` lines of a process's log file."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return f"({path} does not exist)"
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def create_account(
        self, name: str, credits: int, limits: ledger_pb2.LimitsUpdate | None = None
    ) -> DevAccount:
        """Create an account through the ledger's CreateAccount call.

        `limits` overrides the default per-account limits; unset fields keep the defaults.
        """
        request = ledger_pb2.CreateAccountRequest(name=name, credits=credits, limits=limits)
        with grpc.insecure_channel(self.ledger_addr) as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            response = stub.CreateAccount(request, timeout=_CALL_TIMEOUT_SECONDS)
        return DevAccount(response.account.account_id, response.api_key, response.webhook_secret)

    def get_account(self, account_id: str) -> ledger_pb2.Account:
        """Return an account's balance and held credits from the ledger."""
        request = ledger_pb2.GetAccountRequest(account_id=account_id)
        with grpc.insecure_channel(self.ledger_addr) as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            return stub.GetAccount(request, timeout=_CALL_TIMEOUT_SECONDS)

    def _start_nats(self) -> None:
        managed, url = launch.start_nats(self.data_dir / "nats", self.log_dir)
        self.processes["nats"] = managed
        self.env["FERRY_NATS_URL"] = url
        logger.info("nats-server ready at %s", url)

    def _start_s3(self) -> None:
        if self.env.get("FERRY_S3_ENDPOINT"):
            logger.info("using the S3 endpoint %s from FERRY_S3_ENDPOINT",
                        self.env["FERRY_S3_ENDPOINT"])
            return
        # Moto's server accepts any key pair. These are the ones tests/conftest.py uses.
        managed, endpoint = launch.start_s3(self.log_dir)
        self.processes["s3"] = managed
        self.env.update(
            FERRY_S3_ENDPOINT=endpoint,
            FERRY_S3_SECURE="0",
            FERRY_S3_ACCESS_KEY="ferry",
            FERRY_S3_SECRET_KEY="ferry-secret",
        )
        logger.info("S3 endpoint (moto) ready at %s", endpoint)

    def _assign_ports(self) -> None:
        for prefix in GRPC_PREFIXES.values():
            port = launch.free_port()
            self.env[f"{prefix}_HOST"] = "127.0.0.1"
            self.env[f"{prefix}_GRPC_PORT"] = str(port)
            self.env[f"{prefix}_ADDR"] = f"127.0.0.1:{port}"

        # Each process serves /metrics on a port of its own.
        for name in SERVICES:
            self.metrics_ports[name] = launch.free_port()

        self.env["FERRY_GATEWAY_HOST"] = "127.0.0.1"
        if not self.env.get("FERRY_GATEWAY_PORT"):
            port = DEFAULT_GATEWAY_PORT if _port_is_free(DEFAULT_GATEWAY_PORT) else None
            self.env["FERRY_GATEWAY_PORT"] = str(port or launch.free_port())

    def _service(self, name: str) -> Managed:
        if name not in self.processes:
            raise KeyError(f"unknown service {name!r}. The stack runs {', '.join(SERVICES)}")
        return self.processes[name]

    def _spawn(self, name: str) -> None:
        argv = [sys.executable, "-m", f"services.{name}"]
        env = {**self.env, "FERRY_METRICS_PORT": str(self.metrics_ports[name])}
        self.processes[name] = launch.spawn(name, argv, self.log_dir, env=env)
        logger.info("started %s (pid %d), logging to %s",
                    name, self.processes[name].process.pid, self.processes[name].log_path)

    def _wait_ready(self, name: str) -> None:
        process = self.processes[name].process
        deadline = time.monotonic() + self.ready_timeout
        while not self._is_ready(name):
            if process.poll() is not None:
                raise self._not_ready(name, f"exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise self._not_ready(name, f"was not ready within {self.ready_timeout:g} s")
            time.sleep(0.1)
        logger.info("%s ready", name)

    def _is_ready(self, name: str) -> bool:
        if name == "gateway":
            return _gateway_healthy(self.gateway_url)
        return _grpc_serving(self.env[f"{GRPC_PREFIXES[name]}_ADDR"])

    def _not_ready(self, name: str, reason: str) -> LaunchError:
        log_path = self.log_dir / f"{name}.log"
        return LaunchError(
            f"{name} {reason}; check its log {log_path}, whose last lines are:\n"
            f"{self.log_tail(name)}"
        )


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _grpc_serving(address: str) -> bool:
    request = health_pb2.HealthCheckRequest(service="")
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=1)
        except grpc.RpcError:
            return False
    return response.status == health_pb2.HealthCheckResponse.SERVING


def _gateway_healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop_together(processes: list[Managed], grace: float) -> None:
    """Send SIGTERM to every process, wait up to `grace` seconds, then SIGKILL the rest."""
    running = [managed for managed in processes if managed.process.poll() is None]
    for managed in running:
        managed.process.send_signal(signal.SIGTERM)

    deadline = time.monotonic() + grace
    for managed in running:
        remaining = max(deadline - time.monotonic(), 0)
        try:
            managed.process.wait(remaining)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %g s of SIGTERM; killing it",
                           managed.name, grace)
            managed.kill()


def print_instructions(stack: Stack, account: DevAccount) -> None:
    """Print the variables for `eval` and ready-to-paste curl commands on stdout."""
    example = '{"url": "https://example.com/video.mp4", "format": "720p"}'
    lines = [
        f"FERRY_URL={stack.gateway_url}",
        f"FERRY_API_KEY={account.api_key}",
        f"FERRY_ACCOUNT_ID={account.account_id}",
        f"FERRY_WEBHOOK_SECRET={account.webhook_secret}",
        f"FERRY_LEDGER_ADDR={stack.ledger_addr}",
        "# `ferry` commands find the ledger through FERRY_LEDGER_ADDR; export it after eval.",
        "# Start an import (paste the lines above first, or eval them):",
        f'curl -s -X POST "$FERRY_URL/import" -H "Authorization: Bearer $FERRY_API_KEY" '
        f"-H \"Content-Type: application/json\" -d '{example}'",
        "# Check it, with IMPORT_ID set to the importId of that response:",
        'curl -s "$FERRY_URL/import/status?id=$IMPORT_ID" '
        '-H "Authorization: Bearer $FERRY_API_KEY"',
    ]
    print("\n".join(lines), flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _dev_environment() -> dict[str, str]:
    return {
        # Text logs read better in a terminal. FERRY_LOG_FORMAT=json gives the production format.
        "FERRY_LOG_FORMAT": os.environ.get("FERRY_LOG_FORMAT", "text"),
        "FERRY_ALLOW_PRIVATE_URLS": os.environ.get("FERRY_ALLOW_PRIVATE_URLS", "0"),
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness probe
    # SIGINT too, because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = Stack(Path(os.environ.get("FERRY_DATA_DIR") or "data"), _dev_environment())

    try:
        stack.start()
        account = stack.create_account("dev", DEV_ACCOUNT_CREDITS)
        logger.info("created the development account %s with %d credits; logs are in %s; "
                    "press Ctrl-C to stop", account.account_id, DEV_ACCOUNT_CREDITS, stack.log_dir)
        print_instructions(stack, account)
        while (exited := stack.exited()) is None:
            time.sleep(0.5)
        logger.error("%s exited with code %s; stopping the stack. Last lines of its log:\n%s",
                     exited, stack.processes[exited].process.returncode, stack.log_tail(exited))
        return 1
    except KeyboardInterrupt:
        logger.info("stopping every process")
        return 0
    except LaunchError as error:
        logger.error("could not start the stack: %s", error)
        return 1
    except grpc.RpcError as error:
        logger.error("could not create the development account through the ledger at %s: "
                     "%s %s; check %s", stack.ledger_addr, error.code().name, error.details(),
                     stack.log_dir / "ledger.log")
        return 1
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        logger.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
