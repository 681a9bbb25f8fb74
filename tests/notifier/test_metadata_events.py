"""Webhooks for metadata jobs, and how long the delivery log keeps its entries."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from ferry.events.v1 import events_pb2
from ferry.notifier.v1 import notifier_pb2
from nats.js import JetStreamContext
from standardwebhooks.webhooks import Webhook

from services.shared import bus
from services.shared.errors import NotFound
from tests.notifier.support import DELIVERED, make_event, publish, settled


def make_metadata_event(
    account_id: str, webhook_url: str, *, completed: bool = True
) -> events_pb2.MetadataEvent:
    job_id = f"meta_{uuid.uuid4().hex[:16]}"
    status = "completed" if completed else "failed"
    event = events_pb2.MetadataEvent(
        event_id=f"{job_id}.{status}",
        type=events_pb2.EVENT_TYPE_METADATA_COMPLETED
        if completed
        else events_pb2.EVENT_TYPE_METADATA_FAILED,
        job_id=job_id,
        account_id=account_id,
        webhook_url=webhook_url,
        message="Metadata ready" if completed else "no media found at this URL",
    )
    event.created_at.FromDatetime(datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC))
    event.occurred_at.FromDatetime(datetime(2025, 3, 1, 12, 0, 1, 500000, tzinfo=UTC))
    if completed:
        event.result.update({"title": "A clip", "duration": 12.5, "formats": [{"height": 720}]})
    else:
        event.error_code = "no_media"
    return event


async def publish_metadata(js: JetStreamContext, event: events_pb2.MetadataEvent) -> None:
    event_type = (
        bus.EventType.METADATA_COMPLETED
        if event.type == events_pb2.EVENT_TYPE_METADATA_COMPLETED
        else bus.EventType.METADATA_FAILED
    )
    await js.publish(
        event_type.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.event_id}
    )


async def wait_for_job_attempts(
    notifier, account_id: str, job_id: str, within_seconds: float = 20
) -> list[notifier_pb2.DeliveryAttempt]:
    request = notifier_pb2.ListDeliveriesRequest(account_id=account_id, import_id=job_id)
    deadline = time.monotonic() + within_seconds
    while True:
        try:
            attempts = list((await notifier.stub.ListDeliveries(request, timeout=5)).attempts)
        except NotFound:
            attempts = []
        if settled(attempts):
            return attempts
        if time.monotonic() > deadline:
            pytest.fail(f"delivery log of {job_id} after {within_seconds} s: {attempts}")
        await asyncio.sleep(0.05)


async def test_metadata_completed_webhook(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    account_id, secret = ledger.add_account()
    event = make_metadata_event(account_id, receiver.url)

    await publish_metadata(js, event)
    attempts = await wait_for_job_attempts(notifier, account_id, event.job_id)
    received = receiver.requests[0]
    payload = Webhook(secret).verify(received.body, received.headers)

    assert attempts[0].outcome == DELIVERED
    assert attempts[0].event_type == "metadata.completed"
    assert payload == {
        "type": "metadata.completed",
        "jobId": event.job_id,
        "status": "completed",
        "message": "Metadata ready",
        "errorCode": None,
        "result": {"title": "A clip", "duration": 12.5, "formats": [{"height": 720}]},
        "createdAt": "2025-03-01T12:00:00.000Z",
        "timestamp": "2025-03-01T12:00:01.500Z",
    }
    assert received.headers["webhook-id"] == event.event_id


async def test_metadata_failed_webhook(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    account_id, _ = ledger.add_account()
    event = make_metadata_event(account_id, receiver.url, completed=False)

    await publish_metadata(js, event)
    await wait_for_job_attempts(notifier, account_id, event.job_id)
    body = json.loads(receiver.requests[0].body)

    assert body["type"] == "metadata.failed"
    assert body["status"] == "failed"
    assert body["result"] is None
    assert body["errorCode"] == "no_media"


async def test_delivery_log_expires_after_retention(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier(log_retention_seconds=1)
    account_id, _ = ledger.add_account()
    event = make_event(account_id, receiver.url)

    await publish(js, event)
    request = notifier_pb2.ListDeliveriesRequest(
        account_id=account_id, import_id=event.record.import_id
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            await notifier.stub.ListDeliveries(request, timeout=5)
            break
        except NotFound:
            assert time.monotonic() < deadline, "the attempt was never logged"
            await asyncio.sleep(0.05)
    info = await js.stream_info(f"KV_{bus.DELIVERIES_BUCKET}")

    assert info.config.max_age == 1
    deadline = time.monotonic() + 10
    while True:
        try:
            await notifier.stub.ListDeliveries(request, timeout=5)
        except NotFound:
            break
        assert time.monotonic() < deadline, "the delivery log entry did not expire"
        await asyncio.sleep(0.2)


async def test_delivery_log_retention_default(js, start_notifier):
    notifier = await start_notifier()
    info = await js.stream_info(f"KV_{bus.DELIVERIES_BUCKET}")

    assert info.config.max_age == notifier.settings.retention.seconds
