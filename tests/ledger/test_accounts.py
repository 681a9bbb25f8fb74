"""Accounts, API keys and webhook secrets through a real LedgerService server."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta

import pytest
from ferry.ledger.v1 import ledger_pb2
from sqlalchemy import insert, select, update

from services.ledger.accounts import INVALID_KEY_MESSAGE, hash_api_key
from services.ledger.schema import api_keys, entries, webhook_secrets
from services.shared.errors import InvalidRequest, NotFound, Unauthenticated

TIMEOUT = 10


async def create_account(ledger, credits: int = 100, name: str = "test account"):
    request = ledger_pb2.CreateAccountRequest(name=name, credits=credits)
    return await ledger.CreateAccount(request, timeout=TIMEOUT)


async def test_create_account_returns_credentials(ledger):
    created = await create_account(ledger, credits=1000)

    assert created.account.account_id.startswith("acc_")
    assert created.account.balance == 1000
    assert created.account.held == 0
    assert created.api_key.startswith("fry_")
    assert created.webhook_secret.startswith("whsec_")
    assert len(base64.b64decode(created.webhook_secret.removeprefix("whsec_"))) == 24


async def test_create_account_stores_only_key_hash(ledger, engine):
    created = await create_account(ledger)

    with engine.connect() as connection:
        row = connection.execute(
            select(api_keys).where(api_keys.c.account_id == created.account.account_id)
        ).one()
    assert row.key_hash == hash_api_key(created.api_key)
    assert row.prefix == created.api_key[:8]


async def test_create_account_appends_grant_entry(ledger, engine):
    created = await create_account(ledger, credits=250)

    with engine.connect() as connection:
        rows = connection.execute(
            select(entries.c.kind, entries.c.amount)
            .where(entries.c.account_id == created.account.account_id)
        ).all()
    assert [(row.kind, row.amount) for row in rows] == [("grant", 250)]


@pytest.mark.parametrize(
    ("name", "credits", "field"),
    [
        pytest.param("", 10, "name", id="empty-name"),
        pytest.param("   ", 10, "name", id="blank-name"),
        pytest.param("x" * 201, 10, "name", id="long-name"),
        pytest.param("acme", -1, "credits", id="negative-credits"),
    ],
)
async def test_create_account_invalid_field(ledger, name, credits, field):
    with pytest.raises(InvalidRequest, match=field) as caught:
        await create_account(ledger, credits=credits, name=name)

    assert caught.value.details["field"] == field


async def test_get_account_returns_balance(ledger):
    created = await create_account(ledger, credits=42, name="acme")

    account = await ledger.GetAccount(
        ledger_pb2.GetAccountRequest(account_id=created.account.account_id), timeout=TIMEOUT
    )

    assert account.name == "acme"
    assert account.balance == 42
    assert account.created_at.seconds > 0


async def test_get_account_unknown_id(ledger):
    with pytest.raises(NotFound, match="acc_missing"):
        await ledger.GetAccount(
            ledger_pb2.GetAccountRequest(account_id="acc_missing"), timeout=TIMEOUT
        )


async def test_authenticate_valid_key(ledger):
    created = await create_account(ledger)

    response = await ledger.Authenticate(
        ledger_pb2.AuthenticateRequest(api_key=created.api_key), timeout=TIMEOUT
    )

    assert response.account_id == created.account.account_id


@pytest.mark.parametrize("api_key", ["", "fry_unknown", "not-a-ferry-key"])
async def test_authenticate_unknown_key(ledger, api_key):
    with pytest.raises(Unauthenticated) as caught:
        await ledger.Authenticate(ledger_pb2.AuthenticateRequest(api_key=api_key), timeout=TIMEOUT)

    assert caught.value.message == INVALID_KEY_MESSAGE


async def test_authenticate_revoked_key(ledger, engine):
    created = await create_account(ledger)
    with engine.begin() as connection:
        connection.execute(
            update(api_keys)
            .where(api_keys.c.key_hash == hash_api_key(created.api_key))
            .values(revoked_at=datetime.now(UTC))
        )

    with pytest.raises(Unauthenticated) as caught:
        await ledger.Authenticate(
            ledger_pb2.AuthenticateRequest(api_key=created.api_key), timeout=TIMEOUT
        )

    assert caught.value.http_status == 401


async def test_authenticate_never_logs_key(ledger, caplog):
    caplog.set_level(logging.DEBUG)
    created = await create_account(ledger)

    await ledger.Authenticate(
        ledger_pb2.AuthenticateRequest(api_key=created.api_key), timeout=TIMEOUT
    )
    with pytest.raises(Unauthenticated):
        await ledger.Authenticate(
            ledger_pb2.AuthenticateRequest(api_key=created.api_key + "x"), timeout=TIMEOUT
        )

    assert created.api_key not in caplog.text


async def test_webhook_secrets_current_first(ledger, engine):
    created = await create_account(ledger)
    account_id = created.account.account_id
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(webhook_secrets),
            [
                {"account_id": account_id, "secret": "whsec_newer",
                 "created_at": now + timedelta(seconds=5), "expires_at": None},
                {"account_id": account_id, "secret": "whsec_expired",
                 "created_at": now - timedelta(days=2), "expires_at": now - timedelta(days=1)},
            ],
        )

    response = await ledger.GetWebhookSecrets(
        ledger_pb2.GetWebhookSecretsRequest(account_id=account_id), timeout=TIMEOUT
    )

    assert list(response.secrets) == ["whsec_newer", created.webhook_secret]


async def test_webhook_secrets_unknown_account(ledger):
    with pytest.raises(NotFound):
        await ledger.GetWebhookSecrets(
            ledger_pb2.GetWebhookSecretsRequest(account_id="acc_missing"), timeout=TIMEOUT
        )
