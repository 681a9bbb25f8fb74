"""FERRY_NATS_REPLICAS against a real 3-node JetStream cluster on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import Error as JetStreamError

from services.shared import bus
from services.shared.config import ConfigError, NatsSettings, load
from tools import launch

CLUSTER_SIZE = 3
LEADER_TIMEOUT_SECONDS = 30
STREAMS = (
    bus.JOBS_STREAM,
    bus.EVENTS_STREAM,
    f"KV_{bus.IMPORTS_BUCKET}",
)


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start three nats-server processes routed to each other and return a client URL."""
    root: Path = tmp_path_factory.mktemp("nats-cluster")
    client_ports = [launch.free_port() for _ in range(CLUSTER_SIZE)]
    route_ports = [launch.free_port() for _ in range(CLUSTER_SIZE)]
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in route_ports)
    servers = []
    try:
        for index in range(CLUSTER_SIZE):
            store = root / f"n{index}"
            store.mkdir()
            argv = [
                launch.nats_server_binary(), "-a", "127.0.0.1", "-p", str(client_ports[index]),
                "-js", "-sd", str(store), "-n", f"ferry-test-{index}",
                "--cluster_name", "ferry-test",
                "--cluster", f"nats://127.0.0.1:{route_ports[index]}", "--routes", routes,
            ]
            servers.append(launch.spawn(f"nats-{index}", argv, root / "logs"))
        for index, server in enumerate(servers):
            launch.wait_for_port("127.0.0.1", client_ports[index], server.process, timeout=20)
        yield ",".join(f"nats://127.0.0.1:{port}" for port in client_ports)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
async def cluster_client(cluster_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(cluster_url.split(","))
    await _wait_for_jetstream(client)
    yield client
    await client.close()


async def _wait_for_jetstream(client: Client) -> None:
    # A new cluster elects its JetStream meta leader a few seconds after the routes connect.
    async with asyncio.timeout(LEADER_TIMEOUT_SECONDS):
        while True:
            try:
                await client.jetstream().account_info()
                return
            except (JetStreamError, nats.errors.Error):
                await asyncio.sleep(0.5)


async def replica_counts(client: Client) -> dict[str, int]:
    js = client.jetstream()
    counts = {}
    for name in STREAMS:
        info = await js.stream_info(name)
        counts[name] = info.config.num_replicas
    return counts


async def test_ensure_streams_three_replicas(cluster_client: Client) -> None:
    await bus.ensure_streams(cluster_client.jetstream(), 3600, replicas=3)

    counts = await replica_counts(cluster_client)

    assert counts == dict.fromkeys(STREAMS, 3)


async def test_ensure_streams_changes_replicas(cluster_client: Client) -> None:
    js = cluster_client.jetstream()
    await bus.ensure_streams(js, 3600, replicas=1)
    assert await replica_counts(cluster_client) == dict.fromkeys(STREAMS, 1)

    await bus.ensure_streams(js, 3600, replicas=3)

    assert await replica_counts(cluster_client) == dict.fromkeys(STREAMS, 3)


def test_nats_replicas_out_of_range_names_variable() -> None:
    with pytest.raises(ConfigError, match="FERRY_NATS_REPLICAS=7 is out of range"):
        load(NatsSettings, {"FERRY_NATS_REPLICAS": "7"})
