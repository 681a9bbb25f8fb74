"""Account endpoints, rate limit headers and 429 bodies, against a real ledger on SQLite."""

from __future__ import annotations

import time

import pytest
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from services.shared import rpc
from tests.gateway.conftest import CALL_TIMEOUT_SECONDS

IMPORTLY_HEADERS = (
    "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-window",
    "x-ratelimit-plan",
)


async def call_ledger(ledger_address: str, method: str, request):
    async with rpc.open_channel(ledger_address) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        return await getattr(stub, method)(request, timeout=CALL_TIMEOUT_SECONDS)


async def set_limits(ledger_address: str, account_id: str, **values: int) -> None:
    request = ledger_pb2.SetLimitsRequest(account_id=account_id,
                                          limits=ledger_pb2.LimitsUpdate(**values))
    await call_ledger(ledger_address, "SetLimits", request)


async def test_account_returns_balance_and_limits(make_client, ledger_address, account):
    client = await make_client(ledger=ledger_address)

    response = await client.get("/account", headers=account.headers)

    data = response.json()["data"]
    assert response.status_code == 200
    assert data["accountId"] == account.account_id
    assert data["balance"] == 100
    assert data["held"] == 0
    assert data["limits"] == {
        "imports": {"perHour": 240, "concurrent": 2},
        "metadata": {"perHour": 1000, "concurrent": 5},
        "status": {"perHour": 3600},
        "maxFileMegabytes": 4000,
    }
    assert data["usage"]["creditsUsed"] == 0
    assert data["usage"]["periodStart"].endswith("T00:00:00Z")


async def test_account_has_rate_limit_headers(make_client, ledger_address, account):
    client = await make_client(ledger=ledger_address)

    first = await client.get("/account", headers=account.headers)
    second = await client.get("/account", headers=account.headers)

    headers = second.headers
    reset = int(headers["x-ratelimit-reset"])
    assert all(name in first.headers for name in IMPORTLY_HEADERS)
    assert headers["x-ratelimit-limit"] == "3600"
    assert headers["x-ratelimit-remaining"] == "3598"
    assert headers["x-ratelimit-window"] == "3600"
    assert headers["x-ratelimit-plan"] == "standard"
    assert 0 < reset - time.time() <= 3600
    assert headers["ratelimit-policy"] == '"status";q=3600;w=3600'
    assert headers["ratelimit"].startswith('"status";r=3598;t=')


async def test_account_usage_pages(make_client, ledger_address, account):
    client = await make_client(ledger=ledger_address)
    for credits in (5, 6):
        request = ledger_pb2.ChangeCreditsRequest(account_id=account.account_id,
                                                  credits=credits, reason="test grant")
        await call_ledger(ledger_address, "GrantCredits", request)

    first = await client.get("/account/usage", params={"limit": 2}, headers=account.headers)
    cursor = first.json()["data"]["nextCursor"]
    second = await client.get("/account/usage", params={"limit": 2, "cursor": cursor},
                              headers=account.headers)

    entries = first.json()["data"]["entries"] + second.json()["data"]["entries"]
    assert [entry["amount"] for entry in entries] == [6, 5, 100]
    assert entries[0]["kind"] == "grant"
    assert entries[0]["reason"] == "test grant"
    assert entries[0]["importId"] is None
    assert second.json()["data"]["nextCursor"] is None


@pytest.mark.parametrize("limit", ["ten", "0", "-1"])
async def test_account_usage_bad_limit(make_client, ledger_address, account, limit):
    client = await make_client(ledger=ledger_address)

    response = await client.get("/account/usage", params={"limit": limit},
                                headers=account.headers)

    assert response.status_code == 400
    assert f"limit {limit!r} is not a page size" in response.json()["error"]


async def test_rate_limit_429_importly_body(make_client, ledger_address, account):
    await set_limits(ledger_address, account.account_id, status_per_hour=2)
    client = await make_client(ledger=ledger_address)
    for _ in range(2):
        await client.get("/account", headers=account.headers)

    response = await client.get("/account", headers=account.headers)

    body = response.json()
    assert response.status_code == 429
    assert body["success"] is False
    assert body["code"] == "rate_limited"
    assert body["limit"] == 2
    assert body["remaining"] == 0
    assert body["endpoint"] == "/account"
    assert body["reset"] == int(response.headers["x-ratelimit-reset"])
    assert int(response.headers["retry-after"]) == body["retryAfter"]
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.headers["x-ratelimit-plan"] == "custom"
    assert response.headers["ratelimit"].startswith('"status";r=0;')


async def test_unauthenticated_has_no_rate_headers(make_client, ledger_address):
    client = await make_client(ledger=ledger_address)

    response = await client.get("/account", headers={"Authorization": "Bearer fry_unknown"})

    assert response.status_code == 401
    assert "x-ratelimit-limit" not in response.headers


async def test_revoked_key_rejected_next_request(make_client, ledger_address, account):
    client = await make_client(ledger=ledger_address)
    keys = await call_ledger(ledger_address, "ListApiKeys",
                             ledger_pb2.ListApiKeysRequest(account_id=account.account_id))
    before = await client.get("/account", headers=account.headers)

    await call_ledger(ledger_address, "RevokeApiKey", ledger_pb2.RevokeApiKeyRequest(
        account_id=account.account_id, key_id=keys.keys[0].key_id))
    after = await client.get("/account", headers=account.headers)

    assert before.status_code == 200
    assert after.status_code == 401
