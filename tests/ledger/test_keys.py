"""API keys and webhook secret rotation through a real LedgerService server."""

from __future__ import annotations

import logging
import time

import pytest
from ferry.ledger.v1 import ledger_pb2

from services.shared.errors import InvalidRequest, NotFound, Unauthenticated

TIMEOUT = 10


async def create_account(ledger) -> ledger_pb2.CreateAccountResponse:
    request = ledger_pb2.CreateAccountRequest(name="keys test", credits=10)
    return await ledger.CreateAccount(request, timeout=TIMEOUT)


async def create_key(ledger, account_id: str, name: str = "ci") -> ledger_pb2.CreateApiKeyResponse:
    request = ledger_pb2.CreateApiKeyRequest(account_id=account_id, name=name)
    return await ledger.CreateApiKey(request, timeout=TIMEOUT)


async def authenticate(ledger, api_key: str) -> str:
    request = ledger_pb2.AuthenticateRequest(api_key=api_key)
    return (await ledger.Authenticate(request, timeout=TIMEOUT)).account_id


async def revoke(ledger, account_id: str, key_id: int) -> ledger_pb2.ApiKey:
    request = ledger_pb2.RevokeApiKeyRequest(account_id=account_id, key_id=key_id)
    return await ledger.RevokeApiKey(request, timeout=TIMEOUT)


async def secrets_of(ledger, account_id: str) -> list[str]:
    request = ledger_pb2.GetWebhookSecretsRequest(account_id=account_id)
    return list((await ledger.GetWebhookSecrets(request, timeout=TIMEOUT)).secrets)


async def rotate(ledger, account_id: str, overlap: int | None = None):
    request = ledger_pb2.RotateWebhookSecretRequest(account_id=account_id)
    if overlap is not None:
        request.overlap_seconds = overlap
    return await ledger.RotateWebhookSecret(request, timeout=TIMEOUT)


async def test_create_key_authenticates(ledger):
    account_id = (await create_account(ledger)).account.account_id

    created = await create_key(ledger, account_id, "ci")

    assert created.api_key.startswith("fry_")
    assert created.key.prefix == created.api_key[:8]
    assert created.key.name == "ci"
    assert await authenticate(ledger, created.api_key) == account_id


async def test_list_keys_shows_all_without_secrets(ledger):
    first = await create_account(ledger)
    account_id = first.account.account_id
    second = await create_key(ledger, account_id, "ci")

    listed = await ledger.ListApiKeys(
        ledger_pb2.ListApiKeysRequest(account_id=account_id), timeout=TIMEOUT
    )

    assert [key.name for key in listed.keys] == ["default", "ci"]
    assert [key.prefix for key in listed.keys] == [first.api_key[:8], second.api_key[:8]]
    assert first.api_key not in str(listed)
    assert second.api_key not in str(listed)


async def test_revoked_key_fails_at_once(ledger):
    created = await create_account(ledger)
    account_id = created.account.account_id
    spare = await create_key(ledger, account_id)
    keys = await ledger.ListApiKeys(
        ledger_pb2.ListApiKeysRequest(account_id=account_id), timeout=TIMEOUT
    )

    revoked = await revoke(ledger, account_id, keys.keys[0].key_id)

    assert revoked.HasField("revoked_at")
    with pytest.raises(Unauthenticated):
        await authenticate(ledger, created.api_key)
    assert await authenticate(ledger, spare.api_key) == account_id


async def test_revoke_twice_keeps_first_time(ledger):
    account_id = (await create_account(ledger)).account.account_id
    key = (await create_key(ledger, account_id)).key

    first = await revoke(ledger, account_id, key.key_id)
    second = await revoke(ledger, account_id, key.key_id)

    assert second.revoked_at == first.revoked_at


async def test_revoke_other_accounts_key(ledger):
    owner = (await create_account(ledger)).account.account_id
    other = (await create_account(ledger)).account.account_id
    key = await create_key(ledger, owner)

    with pytest.raises(NotFound, match=str(key.key.key_id)):
        await revoke(ledger, other, key.key.key_id)

    assert await authenticate(ledger, key.api_key) == owner


async def test_create_key_unknown_account(ledger):
    with pytest.raises(NotFound, match="acc_missing"):
        await create_key(ledger, "acc_missing")


async def test_create_key_long_name(ledger):
    account_id = (await create_account(ledger)).account.account_id

    with pytest.raises(InvalidRequest, match="at most 100"):
        await create_key(ledger, account_id, "x" * 101)


async def test_keys_never_logged(ledger, caplog):
    caplog.set_level(logging.DEBUG)
    created = await create_account(ledger)
    account_id = created.account.account_id
    key = await create_key(ledger, account_id)
    rotated = await rotate(ledger, account_id)
    await revoke(ledger, account_id, key.key.key_id)

    assert created.api_key not in caplog.text
    assert key.api_key not in caplog.text
    assert rotated.webhook_secret not in caplog.text
    assert f"revoked API key {key.key.key_id}" in caplog.text


async def test_rotate_keeps_old_secret_for_overlap(ledger):
    created = await create_account(ledger)
    account_id = created.account.account_id

    rotated = await rotate(ledger, account_id, overlap=3600)

    assert await secrets_of(ledger, account_id) == [rotated.webhook_secret, created.webhook_secret]
    assert rotated.webhook_secret.startswith("whsec_")


async def test_rotate_zero_overlap_retires_old(ledger):
    created = await create_account(ledger)
    account_id = created.account.account_id

    rotated = await rotate(ledger, account_id, overlap=0)

    assert await secrets_of(ledger, account_id) == [rotated.webhook_secret]


async def test_rotate_default_overlap_is_one_day(ledger):
    account_id = (await create_account(ledger)).account.account_id

    first = await rotate(ledger, account_id)
    second = await rotate(ledger, account_id)

    overlap = second.previous_expires_at.seconds - first.previous_expires_at.seconds
    assert abs(first.previous_expires_at.ToSeconds() - time.time() - 86400) < 60
    assert overlap < 60
    assert len(await secrets_of(ledger, account_id)) == 3


async def test_rotate_keeps_earlier_expiry(ledger):
    created = await create_account(ledger)
    account_id = created.account.account_id
    await rotate(ledger, account_id, overlap=0)

    await rotate(ledger, account_id, overlap=3600)

    assert created.webhook_secret not in await secrets_of(ledger, account_id)


async def test_rotate_invalid_overlap(ledger):
    account_id = (await create_account(ledger)).account.account_id

    with pytest.raises(InvalidRequest, match="overlap_seconds"):
        await rotate(ledger, account_id, overlap=-1)
