"""Grants, adjustments, the entries listing and the append-only entries table."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy.exc
from ferry.ledger.v1 import ledger_pb2
from sqlalchemy import delete, update

from services.ledger import accounts
from services.ledger.schema import entries
from services.shared.errors import InsufficientCredits, InvalidRequest, NotFound

TIMEOUT = 10


async def create_account(ledger, credits: int = 100) -> str:
    request = ledger_pb2.CreateAccountRequest(name="grants test", credits=credits)
    return (await ledger.CreateAccount(request, timeout=TIMEOUT)).account.account_id


async def grant(ledger, account_id: str, credits: int, reason: str = "top-up"):
    request = ledger_pb2.ChangeCreditsRequest(account_id=account_id, credits=credits,
                                              reason=reason)
    return await ledger.GrantCredits(request, timeout=TIMEOUT)


async def adjust(ledger, account_id: str, credits: int, reason: str = "correction"):
    request = ledger_pb2.ChangeCreditsRequest(account_id=account_id, credits=credits,
                                              reason=reason)
    return await ledger.AdjustCredits(request, timeout=TIMEOUT)


async def list_entries(ledger, account_id: str, page_size: int = 0, cursor: str = ""):
    request = ledger_pb2.ListEntriesRequest(account_id=account_id, page_size=page_size,
                                            cursor=cursor)
    return await ledger.ListEntries(request, timeout=TIMEOUT)


async def hold(ledger, account_id: str, credits: int) -> str:
    import_id = f"imp_{uuid.uuid4().hex}"
    request = ledger_pb2.HoldCreditsRequest(import_id=import_id, account_id=account_id,
                                            credits=credits)
    await ledger.HoldCredits(request, timeout=TIMEOUT)
    return import_id


async def test_grant_adds_entry(ledger, entries_total):
    account_id = await create_account(ledger, 100)

    change = await grant(ledger, account_id, 50, "monthly top-up")

    assert change.account.balance == 150
    assert change.entry.kind == "grant"
    assert change.entry.amount == 50
    assert change.entry.reason == "monthly top-up"
    assert entries_total(account_id) == 150


async def test_adjust_removes_credits(ledger, entries_total):
    account_id = await create_account(ledger, 100)

    change = await adjust(ledger, account_id, -30, "refund reversed")

    assert change.account.balance == 70
    assert change.entry.kind == "adjustment"
    assert change.entry.amount == -30
    assert entries_total(account_id) == 70


async def test_adjust_below_zero_rejected(ledger, entries_total):
    account_id = await create_account(ledger, 100)
    await hold(ledger, account_id, 60)

    with pytest.raises(InsufficientCredits) as caught:
        await adjust(ledger, account_id, -50)

    assert caught.value.details == {"needed": 50, "available": 40}
    assert entries_total(account_id) == 40


@pytest.mark.parametrize(
    ("credits", "reason", "match"),
    [
        pytest.param(0, "x", "credits must be from 1", id="zero"),
        pytest.param(-5, "x", "use an adjustment", id="negative"),
        pytest.param(5, "  ", "reason is missing", id="no-reason"),
        pytest.param(5, "x" * 201, "at most 200", id="long-reason"),
    ],
)
async def test_grant_invalid(ledger, credits, reason, match):
    account_id = await create_account(ledger)

    with pytest.raises(InvalidRequest, match=match):
        await grant(ledger, account_id, credits, reason)


async def test_adjust_zero_rejected(ledger):
    account_id = await create_account(ledger)

    with pytest.raises(InvalidRequest, match="non-zero"):
        await adjust(ledger, account_id, 0)


async def test_grant_unknown_account(ledger):
    with pytest.raises(NotFound, match="acc_missing"):
        await grant(ledger, "acc_missing", 5)


async def test_entries_newest_first_paginated(ledger):
    account_id = await create_account(ledger, 100)
    for amount in range(1, 6):
        await grant(ledger, account_id, amount, f"grant {amount}")

    first = await list_entries(ledger, account_id, page_size=2)
    second = await list_entries(ledger, account_id, page_size=2, cursor=first.next_cursor)
    third = await list_entries(ledger, account_id, page_size=2, cursor=second.next_cursor)

    amounts = [entry.amount for page in (first, second, third) for entry in page.entries]
    assert amounts == [5, 4, 3, 2, 1, 100]
    assert third.next_cursor == ""


async def test_entries_page_stable_under_appends(ledger):
    account_id = await create_account(ledger, 100)
    await grant(ledger, account_id, 1)
    first = await list_entries(ledger, account_id, page_size=1)

    await grant(ledger, account_id, 2)
    second = await list_entries(ledger, account_id, page_size=1, cursor=first.next_cursor)

    assert second.entries[0].amount == 100


async def test_entries_carry_import_id(ledger):
    account_id = await create_account(ledger, 100)
    import_id = await hold(ledger, account_id, 7)

    page = await list_entries(ledger, account_id)

    assert page.entries[0].kind == "hold"
    assert page.entries[0].import_id == import_id
    assert page.entries[0].amount == -7


@pytest.mark.parametrize(
    ("page_size", "cursor", "field"),
    [
        pytest.param(201, "", "limit", id="page-too-large"),
        pytest.param(-1, "", "limit", id="negative-page"),
        pytest.param(10, "abc", "cursor", id="bad-cursor"),
    ],
)
async def test_entries_invalid_page(ledger, page_size, cursor, field):
    account_id = await create_account(ledger)

    with pytest.raises(InvalidRequest) as caught:
        await list_entries(ledger, account_id, page_size, cursor)

    assert caught.value.details["field"] == field


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_entries_append_only(engine, statement):
    account_id = accounts.create_account(engine, "append-only", 10).account.account_id
    rows = entries.c.account_id == account_id
    change = (update(entries).where(rows).values(amount=1) if statement == "update"
              else delete(entries).where(rows))

    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
        engine.begin() as connection,
    ):
        connection.execute(change)
