"""Credit grants and manual adjustments, each one entry with a reason."""

from __future__ import annotations

import logging

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection, Engine

from services.ledger import database
from services.ledger.accounts import Account, load_account, utc_now
from services.ledger.schema import accounts, entries
from services.ledger.usage import EntryInfo, entry_info
from services.shared.errors import InsufficientCredits, InvalidRequest

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 200
# Largest single grant or adjustment, to catch typing mistakes such as an extra zero run.
MAX_CHANGE = 10**12


def grant_credits(
    engine: Engine, account_id: str, credits: int, reason: str
) -> tuple[Account, EntryInfo]:
    """Add `credits` (1 or more) to the balance as a `grant` entry."""
    reason = _validate_reason(reason)
    if not 1 <= credits <= MAX_CHANGE:
        raise InvalidRequest(
            f"credits must be from 1 to {MAX_CHANGE} for a grant, got {credits}; "
            "use an adjustment to remove credits",
            field="credits", value=credits,
        )
    return _change(engine, account_id, "grant", credits, reason)


def adjust_credits(
    engine: Engine, account_id: str, credits: int, reason: str
) -> tuple[Account, EntryInfo]:
    """Add or remove credits as an `adjustment` entry; the balance never goes below zero.

    Raises InsufficientCredits when removing more than the spendable balance (credits on
    hold can't be removed).
    """
    reason = _validate_reason(reason)
    if credits == 0 or abs(credits) > MAX_CHANGE:
        raise InvalidRequest(
            f"credits must be a non-zero number from -{MAX_CHANGE} to {MAX_CHANGE} for an "
            f"adjustment, got {credits}",
            field="credits", value=credits,
        )
    return _change(engine, account_id, "adjustment", credits, reason)


def _change(
    engine: Engine, account_id: str, kind: str, credits: int, reason: str
) -> tuple[Account, EntryInfo]:
    with database.write_transaction(engine) as connection:
        load_account(connection, account_id)
        _apply(connection, account_id, credits)
        row = connection.execute(
            insert(entries)
            .values(account_id=account_id, kind=kind, amount=credits, reason=reason,
                    created_at=utc_now())
            .returning(*entries.c)
        ).one()
        account = load_account(connection, account_id)

    logger.info("%s of %+d credits on account %s: %s", kind, credits, account_id, reason)
    return account, entry_info(row)


def _apply(connection: Connection, account_id: str, credits: int) -> None:
    changed = connection.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .where(accounts.c.balance + credits >= 0)
        .values(balance=accounts.c.balance + credits)
    )
    if changed.rowcount == 1:
        return
    available = load_account(connection, account_id).balance
    raise InsufficientCredits(
        f"the adjustment removes {-credits} credits but the balance is {available}; "
        f"remove at most {available}",
        needed=-credits, available=available,
    )


def _validate_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidRequest(
            "reason is missing; say why the credits change, such as \"monthly top-up\"",
            field="reason",
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidRequest(
            f"reason is {len(reason)} characters long; use at most {MAX_REASON_LENGTH}",
            field="reason",
        )
    return reason
