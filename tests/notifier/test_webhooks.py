"""Webhook delivery end to end: JetStream event, notifier, local receiver, delivery log."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from ferry.notifier.v1 import notifier_pb2
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.shared import bus
from services.shared.errors import NotFound
from tests.notifier.support import (
    DELIVERED,
    FAILED,
    HANG,
    RETRYING,
    LedgerServer,
    list_attempts,
    make_event,
    new_secret,
    publish,
    settled,
    wait_for_attempts,
)


async def test_delivery_retries_until_receiver_accepts(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([500, 500, 500, 200])
    notifier = await start_notifier(retry_schedule=(0.2, 0.2, 0.2))
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event)
    attempts = await wait_for_attempts(notifier, event, settled)

    assert [attempt.attempt for attempt in attempts] == [1, 2, 3, 4]
    assert [attempt.outcome for attempt in attempts] == [RETRYING, RETRYING, RETRYING, DELIVERED]
    assert [attempt.http_status for attempt in attempts] == [500, 500, 500, 200]
    assert attempts[0].error == "receiver answered HTTP 500"
    assert attempts[-1].error == ""
    assert len(receiver.requests) == 4
    assert {request.headers["webhook-id"] for request in receiver.requests} == {event.event_id}


async def test_delivery_gives_up_after_schedule(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([503])
    notifier = await start_notifier(retry_schedule=(0.1, 0.1))
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event)
    attempts = await wait_for_attempts(notifier, event, settled)
    await asyncio.sleep(0.5)

    assert [attempt.outcome for attempt in await list_attempts(notifier, event)] == [
        RETRYING,
        RETRYING,
        FAILED,
    ]
    assert len(receiver.requests) == 3
    assert attempts[-1].http_status == 503


async def test_delivery_gone_stops_at_once(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([410], response_body=b"x" * (1024 * 1024))
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)
    await asyncio.sleep(1)  # longer than the retry schedule, so a retry would have shown up
    attempts = await list_attempts(notifier, event)

    assert len(attempts) == 1
    assert attempts[0].outcome == FAILED
    assert attempts[0].http_status == 410
    assert attempts[0].error.startswith("receiver answered HTTP 410: xxx")
    assert len(attempts[0].error) < 300
    assert len(receiver.requests) == 1


async def test_delivery_signature_verifies(js, ledger, make_receiver, start_notifier):
    previous = new_secret()
    receiver = make_receiver([200])
    notifier = await start_notifier()
    account_id, current = ledger.add_account(previous_secret=previous)
    event = make_event(account_id, receiver.url)

    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)
    request = receiver.requests[0]

    assert Webhook(current).verify(request.body, request.headers)["importId"] == (
        event.record.import_id
    )
    assert Webhook(previous).verify(request.body, request.headers)["jobId"] == (
        event.record.import_id
    )
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    with pytest.raises(WebhookVerificationError):
        Webhook(current).verify(request.body.replace(b"A clip", b"B clip"), request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)


async def test_delivery_body_and_headers(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([204])
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)
    request = receiver.requests[0]

    assert json.loads(request.body) == {
        "type": "import.completed",
        "importId": event.record.import_id,
        "jobId": event.record.import_id,
        "status": "completed",
        "mediaUrl": "https://s3.example/media/clip.mp4?sig=1",
        "title": "A clip",
        "duration": 12.5,
        "creditsUsed": 3,
        "message": "Import completed",
        "errorCode": None,
        "createdAt": "2025-03-01T12:29:58.000Z",
        "startedAt": "2025-03-01T12:29:59.500Z",
        "finishedAt": "2025-03-01T12:30:05.250Z",
        "expiresAt": "2025-03-08T12:30:05.250Z",
        "timestamp": "2025-03-01T12:30:05.250Z",
    }
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Ferry-Webhooks/1"
    assert request.headers["webhook-id"] == event.event_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60


async def test_delivery_failed_import_body(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url, completed=False)

    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)
    body = json.loads(receiver.requests[0].body)

    assert body["type"] == "import.failed"
    assert body["status"] == "failed"
    assert body["mediaUrl"] is None
    assert body["title"] is None
    assert body["duration"] is None
    assert body["creditsUsed"] == 0
    assert body["message"] == "download failed: HTTP 404"
    assert body["errorCode"] == "download_failed"
    assert body["finishedAt"] == "2025-03-01T12:30:05.250Z"
    assert body["expiresAt"] is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_delivery_loopback_refused_at_connect(
    js, ledger, make_receiver, start_notifier, host
):
    receiver = make_receiver([200])
    notifier = await start_notifier(allow_private=False)
    url = receiver.url.replace("127.0.0.1", host)
    event = make_event(ledger.add_account()[0], url)

    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)
    await asyncio.sleep(1)
    attempts = await list_attempts(notifier, event)

    assert len(attempts) == 1
    assert attempts[0].outcome == FAILED
    assert attempts[0].http_status == 0
    assert "a private address" in attempts[0].error
    assert "FERRY_ALLOW_PRIVATE_URLS=1" in attempts[0].error
    assert receiver.connections == 0


async def test_delivery_to_localhost_when_private_allowed(
    js, ledger, make_receiver, start_notifier
):
    # localhost may resolve to ::1 first, where nothing listens; the client tries the next.
    receiver = make_receiver([200])
    notifier = await start_notifier(allow_private=True)
    event = make_event(ledger.add_account()[0], receiver.url.replace("127.0.0.1", "localhost"))

    await publish(js, event)
    attempts = await wait_for_attempts(notifier, event, settled)

    assert attempts[-1].outcome == DELIVERED
    assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"


async def test_delivery_redirect_not_followed(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([302, 200])
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event)
    attempts = await wait_for_attempts(notifier, event, settled)

    assert [attempt.http_status for attempt in attempts] == [302, 200]
    assert [request.path for request in receiver.requests] == ["/hook", "/hook"]


async def test_delivery_timeout_retried(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([HANG])
    notifier = await start_notifier(retry_schedule=(0.1,), timeout_seconds=0.5)
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event)
    attempts = await wait_for_attempts(notifier, event, settled)

    assert [attempt.outcome for attempt in attempts] == [RETRYING, FAILED]
    assert attempts[0].error == "timed out after 0.5 s"
    assert attempts[0].latency_seconds < 2


async def test_slow_receiver_does_not_delay_others(js, ledger, make_receiver, start_notifier):
    slow = make_receiver([HANG])
    fast = make_receiver([200])
    notifier = await start_notifier(timeout_seconds=10)
    account_id, _ = ledger.add_account()
    slow_event = make_event(account_id, slow.url)
    fast_event = make_event(account_id, fast.url)

    await publish(js, slow_event)
    deadline = time.monotonic() + 10
    while not slow.requests:
        assert time.monotonic() < deadline, "the slow receiver got no request"
        await asyncio.sleep(0.05)
    await publish(js, fast_event)
    attempts = await wait_for_attempts(notifier, fast_event, settled, within_seconds=5)

    assert attempts[-1].outcome == DELIVERED
    assert await list_attempts(notifier, slow_event) == []
    slow.released.set()


async def test_delivery_unknown_account_fails(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    event = make_event("acc_unknown", receiver.url)

    await publish(js, event)
    attempts = await wait_for_attempts(notifier, event, settled)

    assert len(attempts) == 1
    assert attempts[0].outcome == FAILED
    assert "account 'acc_unknown' not found" in attempts[0].error
    assert receiver.requests == []


async def test_delivery_duplicate_event_not_resent(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url)

    await publish(js, event, msg_id=False)
    await wait_for_attempts(notifier, event, settled)
    await publish(js, event, msg_id=False)
    await asyncio.sleep(1)

    assert len(await list_attempts(notifier, event)) == 1
    assert len(receiver.requests) == 1


async def test_event_without_webhook_acked(js, ledger, start_notifier):
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], "")

    await publish(js, event)
    deadline = time.monotonic() + 10
    while True:
        info = await js.consumer_info(bus.EVENTS_STREAM, bus.NOTIFIER_CONSUMER)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            break
        assert time.monotonic() < deadline, f"event still pending: {info}"
        await asyncio.sleep(0.05)

    assert await list_attempts(notifier, event) == []


async def test_list_deliveries_other_account_not_found(
    js, ledger: LedgerServer, make_receiver, start_notifier
):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url)
    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)

    request = notifier_pb2.ListDeliveriesRequest(
        account_id="acct_other", import_id=event.record.import_id
    )
    with pytest.raises(NotFound, match="no webhook deliveries recorded"):
        await notifier.stub.ListDeliveries(request, timeout=5)


async def test_list_deliveries_unknown_import_not_found(start_notifier):
    notifier = await start_notifier()
    request = notifier_pb2.ListDeliveriesRequest(account_id="acct_1", import_id="imp_missing")

    with pytest.raises(NotFound, match="imp_missing"):
        await notifier.stub.ListDeliveries(request, timeout=5)
