"""The notifier under stress: killed between attempts, and many deliveries at once."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from ferry.notifier.v1 import notifier_pb2
from nats.js import JetStreamContext

from services.notifier.delivery_log import DeliveryLog
from services.shared import bus
from tests.notifier.support import (
    DELIVERED,
    HANG,
    RETRYING,
    LedgerServer,
    make_event,
    publish,
    settled,
)
from tools import launch

# Long enough that the notifier is surely down when the retry falls due.
RESTART_RETRY_DELAY_SECONDS = 1.5
HANGING_RECEIVER_TIMEOUT_SECONDS = 10.0


async def read_attempts(js: JetStreamContext, import_id: str) -> list[notifier_pb2.DeliveryAttempt]:
    kv = await js.key_value(bus.DELIVERIES_BUCKET)
    return await DeliveryLog(kv).attempts(import_id)


async def wait_until(
    check: Callable[[], Awaitable[bool]], within_seconds: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + within_seconds
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {within_seconds} s"
        await asyncio.sleep(interval)


@pytest.fixture
async def notifier_process(
    infra, js: JetStreamContext, ledger: LedgerServer, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[launch.Managed]]]:
    """Return a function that starts `python -m services.notifier` as a child process."""
    await bus.ensure_streams(js, 3600)
    await js.purge_stream(bus.EVENTS_STREAM)
    started: list[launch.Managed] = []
    port = launch.free_port()
    env = {
        **os.environ,
        "FERRY_NATS_URL": infra.nats_url,
        "FERRY_LEDGER_ADDR": ledger.address,
        "FERRY_NOTIFIER_GRPC_PORT": str(port),
        "FERRY_ALLOW_PRIVATE_URLS": "1",
        "FERRY_WEBHOOK_RETRY_SCHEDULE": f"{RESTART_RETRY_DELAY_SECONDS},"
        f"{RESTART_RETRY_DELAY_SECONDS}",
        "FERRY_WEBHOOK_TIMEOUT_SECONDS": "2",
        "FERRY_LOG_FORMAT": "text",
    }

    async def start() -> launch.Managed:
        managed = launch.spawn(
            f"notifier-{len(started)}",
            [sys.executable, "-m", "services.notifier"],
            tmp_path / "logs",
            env,
        )
        started.append(managed)
        # The gRPC port opens after the deliveries bucket exists.
        await asyncio.to_thread(launch.wait_for_port, "127.0.0.1", port, managed.process, 30)
        return managed

    yield start

    for managed in started:
        managed.stop(timeout=10)


async def test_notifier_killed_between_attempts_resumes(
    js, ledger, make_receiver, notifier_process
):
    receiver = make_receiver([500, 500, 200])
    event = make_event(ledger.add_account()[0], receiver.url)
    import_id = event.record.import_id
    first = await notifier_process()

    await publish(js, event)

    async def first_attempt_logged() -> bool:
        return len(await read_attempts(js, import_id)) == 1

    await wait_until(first_attempt_logged, 30, "the first attempt")
    first.kill()
    # The retry falls due while no notifier runs.
    await asyncio.sleep(RESTART_RETRY_DELAY_SECONDS + 1)
    requests_while_down = len(receiver.requests)
    await notifier_process()

    async def delivery_settled() -> bool:
        return settled(await read_attempts(js, import_id))

    await wait_until(delivery_settled, 30, "the delivery after the restart")
    attempts = await read_attempts(js, import_id)

    assert requests_while_down == 1
    assert [attempt.attempt for attempt in attempts] == [1, 2, 3]
    assert [attempt.outcome for attempt in attempts] == [RETRYING, RETRYING, DELIVERED]
    assert [attempt.http_status for attempt in attempts] == [500, 500, 200]
    assert len(receiver.requests) == 3


async def test_hanging_receiver_does_not_delay_others(js, ledger, make_receiver, start_notifier):
    hanging = make_receiver([HANG])
    fast = make_receiver([200])
    notifier = await start_notifier(timeout_seconds=HANGING_RECEIVER_TIMEOUT_SECONDS)
    slow_account, _ = ledger.add_account()
    other_accounts = [ledger.add_account()[0] for _ in range(9)]
    slow_events = [make_event(slow_account, hanging.url) for _ in range(10)]
    fast_events = [make_event(other_accounts[index % 9], fast.url) for index in range(90)]

    # The hanging receiver's events are published first, so they take slots first.
    await asyncio.gather(*(publish(js, event) for event in slow_events + fast_events))

    async def all_fast_delivered() -> bool:
        for event in fast_events:
            attempts = await read_attempts(js, event.record.import_id)
            if not attempts or attempts[-1].outcome != DELIVERED:
                return False
        return True

    await wait_until(all_fast_delivered, 30, "delivery of the 90 events", interval=0.2)
    first_hanging_request = min(request.received_at for request in hanging.requests)
    last_fast_request = max(request.received_at for request in fast.requests)
    elapsed = time.monotonic() - first_hanging_request
    slow_logged = [await read_attempts(js, event.record.import_id) for event in slow_events]

    assert last_fast_request - first_hanging_request < notifier.settings.timeout_seconds
    assert elapsed < notifier.settings.timeout_seconds
    assert len(hanging.requests) == 10
    assert slow_logged == [[] for _ in slow_events]
    assert len(fast.requests) == 90
    hanging.released.set()
