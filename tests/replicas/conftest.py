"""A stack whose importers the tests start and stop themselves, several at a time.

The stack's own importer is stopped once the stack is up. Each test starts importer
processes with `start_importer`, talks to them over gRPC and reads their JSON logs and
/metrics endpoints.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from ferry.importer.v1 import importer_pb2, importer_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests import media
from tools import launch
from tools.devstack import Stack

# Short enough that a job no process acknowledges is redelivered within seconds.
ACK_WAIT_SECONDS = 3
HEARTBEAT_SECONDS = 1
READY_TIMEOUT_SECONDS = 60
CALL_TIMEOUT_SECONDS = 10

Status = importer_pb2.ImportStatus


@dataclass
class Importer:
    """One importer process: its gRPC address, /metrics URL and log."""

    name: str
    address: str
    metrics_url: str
    managed: launch.Managed

    def start_import(self, account_id: str, url: str) -> str:
        request = importer_pb2.StartImportRequest(account_id=account_id, url=url)
        with grpc.insecure_channel(self.address) as channel:
            stub = importer_pb2_grpc.ImporterServiceStub(channel)
            record = stub.StartImport(request, timeout=CALL_TIMEOUT_SECONDS)
        return record.import_id

    def get_import(self, account_id: str, import_id: str) -> importer_pb2.Import:
        request = importer_pb2.GetImportRequest(account_id=account_id, import_id=import_id)
        with grpc.insecure_channel(self.address) as channel:
            stub = importer_pb2_grpc.ImporterServiceStub(channel)
            return stub.GetImport(request, timeout=CALL_TIMEOUT_SECONDS)

    def health(self, service: str = "") -> str:
        """Return the status name the process reports for `service`, or the gRPC error code."""
        request = health_pb2.HealthCheckRequest(service=service)
        with grpc.insecure_channel(self.address) as channel:
            try:
                response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2)
            except grpc.RpcError as exc:
                return exc.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def log_records(self) -> list[dict[str, Any]]:
        """Return the JSON log records the process wrote, skipping any other lines."""
        records = []
        for line in self.managed.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def completed_ids(self) -> list[str]:
        """Return the import ids this process logged as completed, once per log line."""
        return [
            record["import_id"]
            for record in self.log_records()
            if record["message"].startswith("import completed:")
        ]

    def metric(self, name: str, **labels: str) -> float:
        """Return one sample of the process's /metrics, 0 when it has none."""
        return scrape(self.metrics_url, name, **labels)


def scrape(url: str, name: str, **labels: str) -> float:
    """Return the first sample named `name` with `labels` at a /metrics URL, 0 when none."""
    text = httpx.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and labels.items() <= found.labels.items():
                return found.value
    return 0.0


@pytest.fixture(scope="module")
def replica_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("replicas")
    env = {
        "FERRY_ALLOW_PRIVATE_URLS": "1",
        "FERRY_IMPORTER_ACK_WAIT_SECONDS": str(ACK_WAIT_SECONDS),
        "FERRY_IMPORTER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "FERRY_LOG_FORMAT": "json",
        "FERRY_GATEWAY_PORT": str(launch.free_port()),
        # The stack starts its own S3 server even when the shell names another one.
        "FERRY_S3_ENDPOINT": "",
    }
    with Stack(data_dir, env, stop_grace=15) as stack:
        stack.stop_service("importer")
        yield stack


@pytest.fixture
def start_importer(replica_stack: Stack) -> Iterator[Callable[..., Importer]]:
    """Return a factory that starts an importer process, waits until it serves, returns it."""
    started: list[Importer] = []

    def start(role: str, **env: str) -> Importer:
        name = f"importer-{role}-{uuid.uuid4().hex[:6]}"
        port = launch.free_port()
        metrics_port = launch.free_port()
        process_env = {
            **replica_stack.env,
            "FERRY_IMPORTER_HOST": "127.0.0.1",
            "FERRY_IMPORTER_GRPC_PORT": str(port),
            # Every importer empties its download directory at start-up, so each needs one.
            "FERRY_IMPORTER_TMP_DIR": str(replica_stack.data_dir / f"{name}-tmp"),
            "FERRY_METRICS_PORT": str(metrics_port),
            **env,
        }
        argv = [sys.executable, "-m", "services.importer"]
        managed = launch.spawn(name, argv, replica_stack.log_dir, env=process_env)
        importer = Importer(
            name, f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", managed
        )
        started.append(importer)
        _wait_serving(importer)
        return importer

    yield start
    for importer in started:
        importer.managed.stop(15)


def _wait_serving(importer: Importer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    request = health_pb2.HealthCheckRequest(service="")
    while True:
        if importer.managed.process.poll() is not None:
            raise AssertionError(f"{importer.name} exited; see {importer.managed.log_path}")
        with grpc.insecure_channel(importer.address) as channel:
            try:
                response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{importer.name} not SERVING after {READY_TIMEOUT_SECONDS} s")
        time.sleep(0.1)


def wait_for_record(
    importer: Importer,
    account_id: str,
    import_id: str,
    condition: Callable[[importer_pb2.Import], bool],
    timeout: float,
) -> importer_pb2.Import:
    """Poll GetImport until `condition` holds for the record, and return it."""
    deadline = time.monotonic() + timeout
    while True:
        record = importer.get_import(account_id, import_id)
        if condition(record):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"import {import_id} still {Status.Name(record.status)} "
                                 f"after {timeout} s: {record.message}")
        time.sleep(0.2)


def is_final(record: importer_pb2.Import) -> bool:
    return record.status in (Status.IMPORT_STATUS_COMPLETED, Status.IMPORT_STATUS_FAILED)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("replica-media")
    media.make_mp4(directory, name="small.mp4", seconds=1)
    # 2 Mbit/s for 8 s: about 2 MB, so the throttled server takes about 5 s to send it.
    media.make_mp4(directory, name="slow.mp4", seconds=8, video_bitrate="2M")
    return directory


@pytest.fixture(scope="module")
def media_server(media_dir: Path) -> Iterator[media.MediaServer]:
    with media.serve_media(media_dir) as server:
        yield server


# Throttled so that a download of slow.mp4 takes about five seconds.
SLOW_BYTES_PER_SECOND = 400_000


@pytest.fixture(scope="module")
def slow_media_server(media_dir: Path) -> Iterator[media.MediaServer]:
    with media.serve_media(media_dir, throttle_bytes_per_second=SLOW_BYTES_PER_SECOND) as server:
        yield server
