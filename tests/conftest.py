"""Session-wide real infrastructure: nats-server with JetStream and an S3 endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from minio import Minio
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.shared.config import S3Settings
from tools import launch


@dataclass(frozen=True)
class Infra:
    nats_url: str
    s3_endpoint: str
    log_dir: Path

    def s3_settings(self, bucket: str | None = None) -> S3Settings:
        return S3Settings(
            endpoint=self.s3_endpoint,
            access_key="ferry",
            secret_key="ferry-secret",
            bucket=bucket or f"test-{uuid.uuid4().hex[:12]}",
        )

    def minio(self) -> Minio:
        return Minio(self.s3_endpoint, access_key="ferry", secret_key="ferry-secret",
                     secure=False, region="us-east-1")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    root = tmp_path_factory.mktemp("infra")
    log_dir = root / "logs"
    nats_process, nats_url = launch.start_nats(root / "nats", log_dir)
    try:
        s3_process, s3_endpoint = launch.start_s3(log_dir)
        try:
            yield Infra(nats_url, s3_endpoint, log_dir)
        finally:
            s3_process.stop()
    finally:
        nats_process.stop()


@pytest.fixture
async def nats_client(infra: Infra) -> AsyncIterator[Client]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


@pytest.fixture
async def js(nats_client: Client) -> JetStreamContext:
    return nats_client.jetstream()
