"""Rate limits, concurrency slots, hold resizing and usage through a real LedgerService."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from ferry.ledger.v1 import ledger_pb2

from services.ledger import accounts, database, limits
from services.shared.errors import InsufficientCredits, InvalidRequest, RateLimited

TIMEOUT = 10


async def create_account(ledger, credits: int = 100, **limit_values: int):
    request = ledger_pb2.CreateAccountRequest(
        name="limits test", credits=credits, limits=ledger_pb2.LimitsUpdate(**limit_values)
    )
    return await ledger.CreateAccount(request, timeout=TIMEOUT)


async def admit(ledger, api_key: str, limit: str, slot_id: str = ""):
    request = ledger_pb2.AuthenticateRequest(api_key=api_key, limit=limit,
                                             endpoint="/import/status", slot_id=slot_id)
    return await ledger.Authenticate(request, timeout=TIMEOUT)


async def hold(ledger, account_id: str, credits: int, take_slot: bool = True,
               import_id: str = "") -> ledger_pb2.Hold:
    request = ledger_pb2.HoldCreditsRequest(
        import_id=import_id or f"imp_{uuid.uuid4().hex}", account_id=account_id,
        credits=credits, take_import_slot=take_slot,
    )
    return await ledger.HoldCredits(request, timeout=TIMEOUT)


async def resize(ledger, import_id: str, credits: int) -> ledger_pb2.Hold:
    request = ledger_pb2.ResizeHoldRequest(import_id=import_id, credits=credits)
    return await ledger.ResizeHold(request, timeout=TIMEOUT)


async def get_account(ledger, account_id: str) -> ledger_pb2.Account:
    return await ledger.GetAccount(ledger_pb2.GetAccountRequest(account_id=account_id),
                                   timeout=TIMEOUT)


async def test_new_account_has_importly_limits(ledger):
    created = await create_account(ledger)

    account = await get_account(ledger, created.account.account_id)

    assert account.limits == ledger_pb2.Limits(
        imports_per_hour=240, concurrent_imports=2, metadata_per_hour=1000,
        concurrent_metadata=5, status_per_hour=3600, max_file_megabytes=4000,
    )


async def test_create_account_with_limits(ledger):
    created = await create_account(ledger, concurrent_imports=7, status_per_hour=10)

    assert created.account.limits.concurrent_imports == 7
    assert created.account.limits.status_per_hour == 10
    assert created.account.limits.imports_per_hour == 240


async def test_set_limits_changes_only_given(ledger):
    account_id = (await create_account(ledger)).account.account_id

    changed = await ledger.SetLimits(
        ledger_pb2.SetLimitsRequest(
            account_id=account_id, limits=ledger_pb2.LimitsUpdate(metadata_per_hour=50)
        ),
        timeout=TIMEOUT,
    )

    assert changed.metadata_per_hour == 50
    assert changed.concurrent_metadata == 5


@pytest.mark.parametrize("value", [0, -1, 10**9 + 1])
async def test_set_limits_invalid(ledger, value):
    account_id = (await create_account(ledger)).account.account_id
    request = ledger_pb2.SetLimitsRequest(
        account_id=account_id, limits=ledger_pb2.LimitsUpdate(concurrent_imports=value)
    )

    with pytest.raises(InvalidRequest, match="concurrent_imports must be from 1") as caught:
        await ledger.SetLimits(request, timeout=TIMEOUT)

    assert caught.value.details["value"] == value


async def test_authenticate_counts_request(ledger):
    created = await create_account(ledger, status_per_hour=5)

    first = await admit(ledger, created.api_key, "status")
    second = await admit(ledger, created.api_key, "status")

    assert first.rate_limit.quota == 5
    assert first.rate_limit.remaining == 4
    assert second.rate_limit.remaining == 3
    assert second.rate_limit.window_seconds == 3600
    assert second.rate_limit.reset_at % 3600 == 0
    assert second.rate_limit.plan == "custom"


async def test_authenticate_over_quota(ledger):
    created = await create_account(ledger, status_per_hour=2)
    await admit(ledger, created.api_key, "status")
    await admit(ledger, created.api_key, "status")

    with pytest.raises(RateLimited) as caught:
        await admit(ledger, created.api_key, "status")

    details = caught.value.details
    assert caught.value.code == "rate_limited"
    assert details["limit"] == 2
    assert details["remaining"] == 0
    assert details["endpoint"] == "/import/status"
    assert 1 <= details["retryAfter"] <= 3600
    assert details["reset"] % 3600 == 0


async def test_rate_limits_are_separate(ledger):
    created = await create_account(ledger, status_per_hour=1)
    await admit(ledger, created.api_key, "status")

    imports = await admit(ledger, created.api_key, "imports")

    assert imports.rate_limit.remaining == 239


async def test_rate_limit_unknown_name(ledger):
    created = await create_account(ledger)

    with pytest.raises(InvalidRequest, match="unknown rate limit 'uploads'"):
        await admit(ledger, created.api_key, "uploads")


def test_rate_window_resets(engine):
    created = accounts.create_account(engine, "window", 0, {"status_per_hour": 1})
    account = created.account
    now = accounts.utc_now()

    with database.write_transaction(engine) as connection:
        limits.count_request(connection, account.account_id, account.limits, "status", "/x",
                             now)
    with pytest.raises(RateLimited), database.write_transaction(engine) as connection:
        limits.count_request(connection, account.account_id, account.limits, "status", "/x",
                             now)
    with database.write_transaction(engine) as connection:
        state = limits.count_request(connection, account.account_id, account.limits,
                                     "status", "/x", now + timedelta(hours=1))

    assert state.remaining == 0
    assert state.quota == 1


async def test_metadata_slots_capped(ledger):
    created = await create_account(ledger, concurrent_metadata=2)
    await admit(ledger, created.api_key, "metadata", "slot_a")
    await admit(ledger, created.api_key, "metadata", "slot_b")

    with pytest.raises(RateLimited) as caught:
        await admit(ledger, created.api_key, "metadata", "slot_c")
    await ledger.ReleaseSlot(ledger_pb2.ReleaseSlotRequest(slot_id="slot_a"), timeout=TIMEOUT)
    admitted = await admit(ledger, created.api_key, "metadata", "slot_c")

    assert caught.value.code == "concurrency_limited"
    assert caught.value.details["concurrentLimit"] == 2
    assert caught.value.details["currentConcurrent"] == 2
    assert caught.value.details["retryAfter"] == limits.CONCURRENCY_RETRY_AFTER_SECONDS
    assert admitted.rate_limit.remaining == 997


async def test_rejected_slot_does_not_count_rate(ledger):
    created = await create_account(ledger, concurrent_metadata=1, metadata_per_hour=10)
    await admit(ledger, created.api_key, "metadata", "slot_x1")

    with pytest.raises(RateLimited):
        await admit(ledger, created.api_key, "metadata", "slot_x2")
    after = await admit(ledger, created.api_key, "status")
    await ledger.ReleaseSlot(ledger_pb2.ReleaseSlotRequest(slot_id="slot_x1"), timeout=TIMEOUT)
    metadata = await admit(ledger, created.api_key, "metadata", "slot_x3")

    assert after.rate_limit.limit == "status"
    assert metadata.rate_limit.remaining == 8


def test_expired_slot_frees_itself(engine):
    created = accounts.create_account(engine, "lease", 0, {"concurrent_metadata": 1})
    account_id = created.account.account_id
    now = accounts.utc_now()
    with database.write_transaction(engine) as connection:
        limits.take_slot(connection, account_id, "metadata", "slot_old", "/metadata", 60, now)

    with pytest.raises(RateLimited), database.write_transaction(engine) as connection:
        limits.take_slot(connection, account_id, "metadata", "slot_new", "/metadata", 60,
                         now + timedelta(seconds=30))
    with database.write_transaction(engine) as connection:
        limits.take_slot(connection, account_id, "metadata", "slot_new", "/metadata", 60,
                         now + timedelta(seconds=61))


async def test_import_slots_capped_and_freed(ledger):
    account_id = (await create_account(ledger, 100)).account.account_id
    first = await hold(ledger, account_id, 10)
    await hold(ledger, account_id, 10)

    with pytest.raises(RateLimited) as caught:
        await hold(ledger, account_id, 10)
    await ledger.ReleaseCredits(ledger_pb2.ReleaseCreditsRequest(import_id=first.import_id),
                                timeout=TIMEOUT)
    third = await hold(ledger, account_id, 10)

    account = await get_account(ledger, account_id)
    assert caught.value.details["endpoint"] == "/import"
    assert caught.value.details["currentConcurrent"] == 2
    assert third.status == ledger_pb2.HOLD_STATUS_HELD
    assert account.held == 20
    assert account.balance == 80


async def test_capture_frees_import_slot(ledger):
    account_id = (await create_account(ledger, 100, concurrent_imports=1)).account.account_id
    first = await hold(ledger, account_id, 10)

    await ledger.CaptureCredits(
        ledger_pb2.CaptureCreditsRequest(import_id=first.import_id, credits=3), timeout=TIMEOUT
    )
    second = await hold(ledger, account_id, 10)

    assert second.status == ledger_pb2.HOLD_STATUS_HELD


async def test_concurrency_checked_before_credits(ledger):
    account_id = (await create_account(ledger, 10, concurrent_imports=1)).account.account_id
    await hold(ledger, account_id, 10)

    with pytest.raises(RateLimited):
        await hold(ledger, account_id, 10)


async def test_hold_without_slot_ignores_cap(ledger):
    account_id = (await create_account(ledger, 100, concurrent_imports=1)).account.account_id
    await hold(ledger, account_id, 10)

    second = await hold(ledger, account_id, 10, take_slot=False)

    assert second.status == ledger_pb2.HOLD_STATUS_HELD


async def test_resize_shrinks_and_grows(ledger, entries_total):
    account_id = (await create_account(ledger, 100)).account.account_id
    held = await hold(ledger, account_id, 50)

    shrunk = await resize(ledger, held.import_id, 5)
    grown = await resize(ledger, held.import_id, 20)

    account = await get_account(ledger, account_id)
    assert shrunk.credits == 5
    assert shrunk.balance == 95
    assert grown.credits == 20
    assert account.held == 20
    assert account.balance == 80
    assert entries_total(account_id) == 80


async def test_resize_beyond_balance(ledger):
    account_id = (await create_account(ledger, 30)).account.account_id
    held = await hold(ledger, account_id, 10)

    with pytest.raises(InsufficientCredits) as caught:
        await resize(ledger, held.import_id, 50)

    assert caught.value.details == {"needed": 40, "available": 20}


async def test_resize_settled_hold_unchanged(ledger):
    account_id = (await create_account(ledger, 30)).account.account_id
    held = await hold(ledger, account_id, 10)
    await ledger.ReleaseCredits(ledger_pb2.ReleaseCreditsRequest(import_id=held.import_id),
                                timeout=TIMEOUT)

    result = await resize(ledger, held.import_id, 20)

    assert result.status == ledger_pb2.HOLD_STATUS_RELEASED
    assert result.balance == 30


async def test_month_usage_counts_settled(ledger):
    account_id = (await create_account(ledger, 100)).account.account_id
    completed = await hold(ledger, account_id, 10)
    failed = await hold(ledger, account_id, 10)
    await ledger.CaptureCredits(
        ledger_pb2.CaptureCreditsRequest(import_id=completed.import_id, credits=4),
        timeout=TIMEOUT,
    )
    await ledger.ReleaseCredits(ledger_pb2.ReleaseCreditsRequest(import_id=failed.import_id),
                                timeout=TIMEOUT)
    await hold(ledger, account_id, 10)

    usage = (await get_account(ledger, account_id)).usage

    assert usage.credits_used == 4
    assert usage.imports_completed == 1
    assert usage.imports_failed == 1
    assert usage.imports_running == 1
    assert usage.period_start.ToDatetime().day == 1
    assert usage.period_end.ToSeconds() > usage.period_start.ToSeconds()
