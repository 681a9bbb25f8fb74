"""Credit holds through a real LedgerService server: hold, extend, capture, release."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from ferry.ledger.v1 import ledger_pb2

from services.shared.errors import InsufficientCredits, InvalidRequest, NotFound

TIMEOUT = 10


async def create_account(ledger, credits: int) -> str:
    request = ledger_pb2.CreateAccountRequest(name="credits test", credits=credits)
    created = await ledger.CreateAccount(request, timeout=TIMEOUT)
    return created.account.account_id


async def get_account(ledger, account_id: str) -> ledger_pb2.Account:
    return await ledger.GetAccount(
        ledger_pb2.GetAccountRequest(account_id=account_id), timeout=TIMEOUT
    )


async def hold(ledger, import_id: str, account_id: str, credits: int) -> ledger_pb2.Hold:
    request = ledger_pb2.HoldCreditsRequest(
        import_id=import_id, account_id=account_id, credits=credits
    )
    return await ledger.HoldCredits(request, timeout=TIMEOUT)


async def capture(ledger, import_id: str, credits: int) -> ledger_pb2.Hold:
    request = ledger_pb2.CaptureCreditsRequest(import_id=import_id, credits=credits)
    return await ledger.CaptureCredits(request, timeout=TIMEOUT)


async def release(ledger, import_id: str) -> ledger_pb2.Hold:
    request = ledger_pb2.ReleaseCreditsRequest(import_id=import_id)
    return await ledger.ReleaseCredits(request, timeout=TIMEOUT)


def new_import_id() -> str:
    return f"imp_{uuid.uuid4().hex}"


async def test_hold_moves_balance_to_held(ledger, entries_total):
    account_id = await create_account(ledger, 100)

    result = await hold(ledger, new_import_id(), account_id, 30)

    account = await get_account(ledger, account_id)
    assert result.status == ledger_pb2.HOLD_STATUS_HELD
    assert result.credits == 30
    assert result.balance == 70
    assert account.held == 30
    assert entries_total(account_id) == 70


async def test_hold_repeated_is_idempotent(ledger):
    account_id = await create_account(ledger, 100)
    import_id = new_import_id()

    await hold(ledger, import_id, account_id, 10)
    repeated = await hold(ledger, import_id, account_id, 10)
    smaller = await hold(ledger, import_id, account_id, 1)

    account = await get_account(ledger, account_id)
    assert repeated.credits == 10
    assert smaller.credits == 10
    assert account.balance == 90
    assert account.held == 10


async def test_hold_extends_by_difference(ledger, entries_total):
    account_id = await create_account(ledger, 100)
    import_id = new_import_id()

    await hold(ledger, import_id, account_id, 1)
    extended = await hold(ledger, import_id, account_id, 25)

    account = await get_account(ledger, account_id)
    assert extended.credits == 25
    assert extended.balance == 75
    assert account.held == 25
    assert entries_total(account_id) == 75


async def test_hold_insufficient_credits(ledger):
    account_id = await create_account(ledger, 5)

    with pytest.raises(InsufficientCredits) as caught:
        await hold(ledger, new_import_id(), account_id, 8)

    status, body = caught.value.to_http()
    assert status == 402
    assert body["code"] == "insufficient_credits"
    assert body["details"] == {"needed": 8, "available": 5}
    assert caught.value.message == (
        "import needs 8 credits but the balance is 5; add credits and retry"
    )
    assert (await get_account(ledger, account_id)).balance == 5


async def test_hold_extension_insufficient(ledger):
    account_id = await create_account(ledger, 10)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 4)

    with pytest.raises(InsufficientCredits) as caught:
        await hold(ledger, import_id, account_id, 20)

    account = await get_account(ledger, account_id)
    assert caught.value.details == {"needed": 16, "available": 6}
    assert account.balance == 6
    assert account.held == 4


async def test_hold_unknown_account(ledger):
    with pytest.raises(NotFound, match="acc_missing"):
        await hold(ledger, new_import_id(), "acc_missing", 1)


@pytest.mark.parametrize(
    ("import_id", "credits", "field"),
    [
        pytest.param("", 1, "import_id", id="missing-import-id"),
        pytest.param("imp_x", 0, "credits", id="zero-credits"),
        pytest.param("imp_x", -3, "credits", id="negative-credits"),
    ],
)
async def test_hold_invalid_field(ledger, import_id, credits, field):
    account_id = await create_account(ledger, 10)

    with pytest.raises(InvalidRequest) as caught:
        await hold(ledger, import_id, account_id, credits)

    assert caught.value.details["field"] == field


async def test_hold_other_account_rejected(ledger):
    first = await create_account(ledger, 10)
    second = await create_account(ledger, 10)
    import_id = new_import_id()
    await hold(ledger, import_id, first, 2)

    with pytest.raises(InvalidRequest, match="another account"):
        await hold(ledger, import_id, second, 2)

    assert (await get_account(ledger, second)).balance == 10


async def test_capture_charges_and_returns_rest(ledger, entries_total):
    account_id = await create_account(ledger, 100)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 40)

    result = await capture(ledger, import_id, 15)

    account = await get_account(ledger, account_id)
    assert result.status == ledger_pb2.HOLD_STATUS_CAPTURED
    assert result.credits == 40
    assert result.captured == 15
    assert result.balance == 85
    assert account.held == 0
    assert entries_total(account_id) == 85


async def test_capture_twice_charges_once(ledger, entries_total):
    account_id = await create_account(ledger, 100)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 10)

    await capture(ledger, import_id, 10)
    again = await capture(ledger, import_id, 10)

    assert again.status == ledger_pb2.HOLD_STATUS_CAPTURED
    assert again.captured == 10
    assert again.balance == 90
    assert entries_total(account_id) == 90


async def test_capture_more_than_held(ledger):
    account_id = await create_account(ledger, 100)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 3)

    with pytest.raises(InvalidRequest, match="extend the hold"):
        await capture(ledger, import_id, 4)

    account = await get_account(ledger, account_id)
    assert account.held == 3
    assert account.balance == 97


async def test_capture_unknown_import(ledger):
    with pytest.raises(NotFound, match="imp_missing"):
        await capture(ledger, "imp_missing", 1)


async def test_release_returns_all_credits(ledger, entries_total):
    account_id = await create_account(ledger, 50)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 20)

    result = await release(ledger, import_id)
    again = await release(ledger, import_id)

    account = await get_account(ledger, account_id)
    assert result.status == ledger_pb2.HOLD_STATUS_RELEASED
    assert again.balance == 50
    assert account.held == 0
    assert entries_total(account_id) == 50


async def test_release_after_capture_is_noop(ledger):
    account_id = await create_account(ledger, 50)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 20)
    await capture(ledger, import_id, 5)

    result = await release(ledger, import_id)

    assert result.status == ledger_pb2.HOLD_STATUS_CAPTURED
    assert result.balance == 45


async def test_hold_after_settlement_is_noop(ledger):
    account_id = await create_account(ledger, 50)
    import_id = new_import_id()
    await hold(ledger, import_id, account_id, 5)
    await release(ledger, import_id)

    result = await hold(ledger, import_id, account_id, 30)

    assert result.status == ledger_pb2.HOLD_STATUS_RELEASED
    assert result.balance == 50


async def test_release_unknown_import(ledger):
    with pytest.raises(NotFound):
        await release(ledger, "imp_missing")


async def test_concurrent_holds_never_overdraw(ledger, entries_total):
    account_id = await create_account(ledger, 10)

    results = await asyncio.gather(
        *(hold(ledger, new_import_id(), account_id, 1) for _ in range(50)),
        return_exceptions=True,
    )

    granted = [result for result in results if isinstance(result, ledger_pb2.Hold)]
    rejected = [result for result in results if isinstance(result, InsufficientCredits)]
    account = await get_account(ledger, account_id)
    assert len(granted) == 10
    assert len(rejected) == 40
    assert min(result.balance for result in granted) == 0
    assert account.balance == 0
    assert account.held == 10
    assert entries_total(account_id) == 0


async def test_concurrent_extensions_of_one_hold(ledger, entries_total):
    account_id = await create_account(ledger, 100)
    import_id = new_import_id()

    await asyncio.gather(*(hold(ledger, import_id, account_id, n) for n in range(1, 21)))

    account = await get_account(ledger, account_id)
    assert account.held == 20
    assert account.balance == 80
    assert entries_total(account_id) == 80
