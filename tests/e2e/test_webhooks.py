"""Webhook endpoints of a running stack: delivery log, redelivery and test events."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests import media
from tests.e2e.conftest import WebhookReceiver
from tests.e2e.test_first_import import FinishedImport, api_client, start_import, wait_for_status
from tools.devstack import DevAccount, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def webhook_import(
    stack: Stack,
    create_account: Callable[..., DevAccount],
    media_server: media.MediaServer,
    media_dir: Path,
    webhook_receiver: WebhookReceiver,
) -> FinishedImport:
    """Import the small MP4 with a webhook and wait until the webhook arrived."""
    account = create_account()
    webhook_url = webhook_receiver.url()
    with api_client(stack, account.api_key) as client:
        import_id = start_import(
            client, url=media_server.url(media_dir / "clip.mp4"), webhook_url=webhook_url
        )
        status = wait_for_status(client, import_id)
    webhook_receiver.wait_for(webhook_url, timeout=15)
    return FinishedImport(account, import_id, status, webhook_url)


def delivery_log(stack: Stack, api_key: str, import_id: str) -> list[dict[str, Any]]:
    with api_client(stack, api_key) as client:
        response = client.get("/import/webhooks", params={"id": import_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]["attempts"]


def test_webhook_redeliver_sends_again(
    stack: Stack, webhook_import: FinishedImport, webhook_receiver: WebhookReceiver
):
    account = webhook_import.account
    with api_client(stack, account.api_key) as client:
        response = client.post(
            "/import/webhooks/redeliver", params={"id": webhook_import.import_id}
        )
    assert response.status_code == 202, response.text
    queued = response.json()["data"]

    deadline = time.monotonic() + 15
    while len(webhook_receiver.received(webhook_import.webhook_url)) < 2:
        assert time.monotonic() < deadline, "the redelivered webhook did not arrive"
        time.sleep(0.1)
    first, second = webhook_receiver.received(webhook_import.webhook_url)
    payload = Webhook(account.webhook_secret).verify(second.body, second.headers)
    deadline = time.monotonic() + 10
    while len(attempts := delivery_log(stack, account.api_key, webhook_import.import_id)) < 2:
        assert time.monotonic() < deadline, f"the redelivery was not logged: {attempts}"
        time.sleep(0.1)

    assert queued["status"] == "queued"
    assert queued["importId"] == webhook_import.import_id
    assert queued["eventType"] == "import.completed"
    assert second.body == first.body
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert payload["importId"] == webhook_import.import_id
    assert [attempt["deliveryId"] for attempt in attempts] == [
        first.headers["webhook-id"],
        queued["deliveryId"],
    ]
    assert [attempt["outcome"] for attempt in attempts] == ["delivered", "delivered"]
    assert [attempt["httpStatus"] for attempt in attempts] == [204, 204]


def test_webhook_redeliver_other_account_404(
    stack: Stack, webhook_import: FinishedImport, create_account: Callable[..., DevAccount]
):
    other = create_account()
    with api_client(stack, other.api_key) as client:
        response = client.post(
            "/import/webhooks/redeliver", params={"id": webhook_import.import_id}
        )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_webhook_redeliver_missing_id_400(stack: Stack, create_account):
    with api_client(stack, create_account().api_key) as client:
        response = client.post("/import/webhooks/redeliver")

    assert response.status_code == 400
    assert response.json()["error"] == "id is missing; pass the import id as ?id=<importId>"


def test_webhook_test_event_delivered(
    stack: Stack, create_account: Callable[..., DevAccount], webhook_receiver: WebhookReceiver
):
    account = create_account()
    url = webhook_receiver.url()
    with api_client(stack, account.api_key) as client:
        response = client.post("/webhooks/test", json={"url": url, "type": "import.failed"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    received = webhook_receiver.received(url)
    payload = Webhook(account.webhook_secret).verify(received[0].body, received[0].headers)

    assert data["delivered"] is True
    assert data["httpStatus"] == 204
    assert data["outcome"] == "delivered"
    assert data["payload"] == payload
    assert payload["type"] == "import.failed"
    assert payload["test"] is True
    assert len(received) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "url is missing"),
        ({"url": 7}, "url must be of type string, got number"),
        ({"url": "ftp://127.0.0.1/hook"}, "is not an http or https URL"),
        ({"url": "http://127.0.0.1:9/hook", "type": "import.done"}, "'import.done' is not"),
    ],
    ids=["no url", "url not string", "ftp url", "unknown type"],
)
def test_webhook_test_bad_request_400(
    stack: Stack, create_account: Callable[..., DevAccount], body: dict, message: str
):
    with api_client(stack, create_account().api_key) as client:
        response = client.post("/webhooks/test", json=body)

    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_webhook_log_empty_without_webhook(
    stack: Stack,
    create_account: Callable[..., DevAccount],
    media_server: media.MediaServer,
    media_dir: Path,
):
    account = create_account()
    with api_client(stack, account.api_key) as client:
        import_id = start_import(client, url=media_server.url(media_dir / "clip.mp4"))
        redeliver = client.post("/import/webhooks/redeliver", params={"id": import_id})

    assert delivery_log(stack, account.api_key, import_id) == []
    assert redeliver.status_code == 404
    assert "no webhook deliveries recorded" in redeliver.json()["error"]
