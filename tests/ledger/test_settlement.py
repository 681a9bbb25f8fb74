"""Settlement of holds from ImportEvents on a real JetStream stream."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2
from nats.js import JetStreamContext

from services.ledger import accounts, credits, settlement
from services.shared import bus, logs
from services.shared.consumer import PullConsumer

SETTLE_TIMEOUT_SECONDS = 20


@pytest.fixture
async def consumer(js: JetStreamContext, engine) -> AsyncIterator[PullConsumer]:
    await bus.ensure_streams(js, 60)
    consumer = settlement.create_consumer(js, engine)
    task = asyncio.create_task(consumer.run())
    yield consumer
    await consumer.stop(5)
    await asyncio.wait_for(task, timeout=5)


def import_event(kind: int, import_id: str, account_id: str, credits_used: int = 0) -> bytes:
    record = importer_pb2.Import(
        import_id=import_id, account_id=account_id, credits_used=credits_used
    )
    event = events_pb2.ImportEvent(event_id=f"{import_id}.{kind}", type=kind, record=record)
    return event.SerializeToString()


async def publish_twice(js: JetStreamContext, subject: str, payload: bytes) -> int:
    """Publish `payload` twice as distinct messages and return the second's sequence."""
    await js.publish(subject, payload)
    second = await js.publish(subject, payload)
    return second.seq


async def wait_until_acked(js: JetStreamContext, sequence: int) -> None:
    """Wait until the settlement consumer has acked every message up to `sequence`."""
    async with asyncio.timeout(SETTLE_TIMEOUT_SECONDS):
        while True:
            info = await js.consumer_info(bus.EVENTS_STREAM, bus.LEDGER_CONSUMER)
            if info.ack_floor.stream_seq >= sequence:
                return
            await asyncio.sleep(0.05)


def new_import_id() -> str:
    return f"imp_{uuid.uuid4().hex}"


async def test_settlement_completed_twice_charges_once(js, engine, consumer, entries_total):
    account_id = accounts.create_account(engine, "settlement", 100).account.account_id
    import_id = new_import_id()
    credits.hold_credits(engine, import_id, account_id, 30)

    payload = import_event(events_pb2.EVENT_TYPE_IMPORT_COMPLETED, import_id, account_id, 12)
    sequence = await publish_twice(js, bus.EventType.IMPORT_COMPLETED.subject, payload)
    await wait_until_acked(js, sequence)

    account = accounts.get_account(engine, account_id)
    assert account.balance == 88
    assert account.held == 0
    assert entries_total(account_id) == 88


async def test_settlement_failed_releases_hold(js, engine, consumer):
    account_id = accounts.create_account(engine, "settlement", 100).account.account_id
    import_id = new_import_id()
    credits.hold_credits(engine, import_id, account_id, 30)

    payload = import_event(events_pb2.EVENT_TYPE_IMPORT_FAILED, import_id, account_id)
    sequence = await publish_twice(js, bus.EventType.IMPORT_FAILED.subject, payload)
    await wait_until_acked(js, sequence)

    account = accounts.get_account(engine, account_id)
    assert account.balance == 100
    assert account.held == 0


async def test_settlement_unknown_hold_acked(js, engine, consumer, caplog):
    caplog.set_level(logging.WARNING)
    caplog.handler.addFilter(logs.ContextFilter())
    import_id = new_import_id()

    payload = import_event(events_pb2.EVENT_TYPE_IMPORT_COMPLETED, import_id, "acc_x", 3)
    published = await js.publish(bus.EventType.IMPORT_COMPLETED.subject, payload)
    await wait_until_acked(js, published.seq)

    warnings = [record for record in caplog.records if import_id in record.getMessage()]
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].import_id == import_id


async def test_settlement_undecodable_event_dropped(js, engine, consumer):
    published = await js.publish(bus.EventType.IMPORT_FAILED.subject, b"\xff\xff not protobuf")

    await wait_until_acked(js, published.seq)
