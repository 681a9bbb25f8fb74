"""Redelivery of an import's latest webhook, and signed test events sent to a URL."""

from __future__ import annotations

import json

import pytest
from ferry.notifier.v1 import notifier_pb2
from standardwebhooks.webhooks import Webhook

from services.shared.errors import InvalidRequest, NotFound
from tests.notifier.support import (
    DELIVERED,
    FAILED,
    RETRYING,
    make_event,
    publish,
    settled,
    wait_for_attempts,
)


def redelivered(delivery_id: str):
    def done(attempts: list[notifier_pb2.DeliveryAttempt]) -> bool:
        ours = [attempt for attempt in attempts if attempt.delivery_id == delivery_id]
        return settled(ours)

    return done


async def test_redeliver_sends_event_again(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    account_id, secret = ledger.add_account()
    event = make_event(account_id, receiver.url)
    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)

    request = notifier_pb2.RedeliverRequest(
        account_id=account_id, import_id=event.record.import_id
    )
    queued = await notifier.stub.Redeliver(request, timeout=5)
    attempts = await wait_for_attempts(notifier, event, redelivered(queued.delivery_id))

    assert queued.message_id == event.event_id
    assert queued.event_type == "import.completed"
    assert queued.url == receiver.url
    assert [attempt.delivery_id for attempt in attempts] == [event.event_id, queued.delivery_id]
    assert [attempt.attempt for attempt in attempts] == [1, 1]
    assert [attempt.outcome for attempt in attempts] == [DELIVERED, DELIVERED]
    assert len(receiver.requests) == 2
    assert receiver.requests[1].body == receiver.requests[0].body
    assert receiver.requests[1].headers["webhook-id"] == event.event_id
    assert Webhook(secret).verify(receiver.requests[1].body, receiver.requests[1].headers)


async def test_redeliver_follows_retry_schedule(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([410, 503, 200])
    notifier = await start_notifier(retry_schedule=(0.2, 0.2))
    account_id, _ = ledger.add_account()
    event = make_event(account_id, receiver.url)
    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)

    request = notifier_pb2.RedeliverRequest(
        account_id=account_id, import_id=event.record.import_id
    )
    queued = await notifier.stub.Redeliver(request, timeout=5)
    attempts = await wait_for_attempts(notifier, event, redelivered(queued.delivery_id))

    assert [attempt.outcome for attempt in attempts] == [FAILED, RETRYING, DELIVERED]
    assert [attempt.http_status for attempt in attempts] == [410, 503, 200]
    assert [attempt.attempt for attempt in attempts] == [1, 1, 2]


async def test_redeliver_other_account_not_found(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    event = make_event(ledger.add_account()[0], receiver.url)
    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)

    request = notifier_pb2.RedeliverRequest(
        account_id="acct_other", import_id=event.record.import_id
    )
    with pytest.raises(NotFound, match="no webhook deliveries recorded"):
        await notifier.stub.Redeliver(request, timeout=5)


async def test_redeliver_unknown_import_not_found(start_notifier):
    notifier = await start_notifier()
    request = notifier_pb2.RedeliverRequest(account_id="acct_1", import_id="imp_missing")

    with pytest.raises(NotFound, match="imp_missing"):
        await notifier.stub.Redeliver(request, timeout=5)


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("import.completed", "completed"),
        ("import.failed", "failed"),
        ("metadata.completed", "completed"),
        ("metadata.failed", "failed"),
    ],
)
async def test_test_webhook_signed_sample(
    ledger, make_receiver, start_notifier, event_type, status
):
    receiver = make_receiver([204])
    notifier = await start_notifier()
    account_id, secret = ledger.add_account()

    request = notifier_pb2.SendTestWebhookRequest(
        account_id=account_id, url=receiver.url, event_type=event_type
    )
    sent = await notifier.stub.SendTestWebhook(request, timeout=5)
    received = receiver.requests[0]
    payload = Webhook(secret).verify(received.body, received.headers)

    assert sent.attempt.outcome == DELIVERED
    assert sent.attempt.http_status == 204
    assert sent.body.encode() == received.body
    assert payload["type"] == event_type
    assert payload["status"] == status
    assert payload["test"] is True
    assert received.headers["webhook-id"] == sent.attempt.message_id


async def test_test_webhook_default_type(ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    request = notifier_pb2.SendTestWebhookRequest(
        account_id=ledger.add_account()[0], url=receiver.url
    )

    sent = await notifier.stub.SendTestWebhook(request, timeout=5)
    payload = json.loads(sent.body)

    assert payload["type"] == "import.completed"
    assert payload["importId"] == payload["jobId"]
    assert payload["importId"].startswith("imp_test_")
    assert set(payload) >= {"mediaUrl", "title", "duration", "creditsUsed", "message"}


async def test_test_webhook_not_retried(ledger, make_receiver, start_notifier):
    receiver = make_receiver([500, 200])
    notifier = await start_notifier(retry_schedule=(0.1,))
    request = notifier_pb2.SendTestWebhookRequest(
        account_id=ledger.add_account()[0], url=receiver.url
    )

    sent = await notifier.stub.SendTestWebhook(request, timeout=5)

    assert sent.attempt.outcome == FAILED
    assert sent.attempt.http_status == 500
    assert sent.attempt.error == "receiver answered HTTP 500"
    assert len(receiver.requests) == 1


async def test_test_webhook_unknown_type_rejected(ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    request = notifier_pb2.SendTestWebhookRequest(
        account_id=ledger.add_account()[0], url=receiver.url, event_type="import.done"
    )

    with pytest.raises(InvalidRequest, match="'import.done' is not a webhook event type"):
        await notifier.stub.SendTestWebhook(request, timeout=5)
    assert receiver.requests == []


async def test_test_webhook_private_url_rejected(ledger, make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier(allow_private=False)
    request = notifier_pb2.SendTestWebhookRequest(
        account_id=ledger.add_account()[0], url=receiver.url
    )

    with pytest.raises(InvalidRequest, match="FERRY_ALLOW_PRIVATE_URLS=1"):
        await notifier.stub.SendTestWebhook(request, timeout=5)
    assert receiver.connections == 0


async def test_test_webhook_unknown_account_fails(make_receiver, start_notifier):
    receiver = make_receiver([200])
    notifier = await start_notifier()
    request = notifier_pb2.SendTestWebhookRequest(account_id="acc_unknown", url=receiver.url)

    sent = await notifier.stub.SendTestWebhook(request, timeout=5)

    assert sent.attempt.outcome == FAILED
    assert "account 'acc_unknown' not found" in sent.attempt.error
    assert receiver.requests == []
