"""Credit holds: reserve credits for an import, then capture (charge) or release them.

Every function is idempotent per import id and runs one transaction that changes the
hold, the account's balance and held columns, and appends the matching entries row, so
the sum of an account's entries always equals its balance.

Each balance change is one UPDATE statement guarded by `balance >= n`, so concurrent
holds can't drive the balance below zero. On PostgreSQL the hold row is also locked with
SELECT ... FOR UPDATE. On SQLite every write transaction takes the database lock.

A first hold may also take one of the account's concurrent import slots (see limits.py).
The capture or release that settles the hold frees the slot in the same transaction, and
every later hold call renews its lease.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from services.ledger import database, limits
from services.ledger.accounts import load_account, utc_now
from services.ledger.schema import accounts, entries, holds
from services.shared import metrics
from services.shared.errors import InsufficientCredits, InvalidRequest, NotFound

logger = logging.getLogger(__name__)

HELD = "held"
CAPTURED = "captured"
RELEASED = "released"
IMPORT_SLOTS = "imports"
# Lease of an import slot unless the caller passes one: two hours, longer than the
# importer's default download timeout of one hour.
DEFAULT_SLOT_LEASE_SECONDS = 7200.0


@dataclass(frozen=True)
class Hold:
    import_id: str
    account_id: str
    status: str
    # Credits reserved while held; after capture, what was reserved before the capture.
    credits: int
    # Credits charged by the capture.
    captured: int
    # The account's spendable balance after the call.
    balance: int
    # The account's maximum file size per import.
    max_file_bytes: int = 0


def hold_credits(
    engine: Engine,
    import_id: str,
    account_id: str,
    credits: int,
    *,
    take_slot: bool = False,
    slot_lease_seconds: float = DEFAULT_SLOT_LEASE_SECONDS,
) -> Hold:
    """Reserve at least `credits` for the import, extending its hold when it has fewer.

    A hold that already covers `credits`, or that was captured or released, is returned
    unchanged. Raises InsufficientCredits when the balance can't cover the difference.
    With `take_slot`, the first hold also takes a concurrent import slot, and raises
    RateLimited when the account runs as many imports as it may.
    """
    _require_id("import_id", import_id)
    _require_id("account_id", account_id)
    if credits < 1:
        raise InvalidRequest(
            f"credits must be 1 or more, got {credits}", field="credits", value=credits
        )

    slot = _SlotRequest(take_slot, slot_lease_seconds)
    try:
        return _hold_once(engine, import_id, account_id, credits, slot)
    except IntegrityError:
        # Two first holds for the same import raced; the loser retries and finds the
        # winner's hold.
        logger.info("concurrent first hold for import %s; retrying it once", import_id)
        return _hold_once(engine, import_id, account_id, credits, slot)


def resize_hold(
    engine: Engine,
    import_id: str,
    credits: int,
    *,
    slot_lease_seconds: float = DEFAULT_SLOT_LEASE_SECONDS,
) -> Hold:
    """Set a held import's hold to exactly `credits`, returning or reserving the difference.

    A settled hold is returned unchanged. Raises NotFound for an unknown import and
    InsufficientCredits when the balance can't cover a larger hold.
    """
    _require_id("import_id", import_id)
    if credits < 1:
        raise InvalidRequest(
            f"credits must be 1 or more, got {credits}", field="credits", value=credits
        )

    with database.write_transaction(engine) as connection:
        hold = _lock_hold(connection, import_id)
        if hold is None:
            raise _hold_not_found(import_id)
        if hold.status != HELD or hold.credits == credits:
            return _result(connection, hold)

        limits.renew_slot(connection, import_id, utc_now(), slot_lease_seconds)
        if credits > hold.credits:
            _reserve(connection, hold.account_id, credits - hold.credits, import_id,
                     f"hold resized from {hold.credits} to {credits} credits", extension=True)
        else:
            returned = hold.credits - credits
            _change_account(connection, hold.account_id, balance=returned, held=-returned)
            _append_entry(connection, hold.account_id, "release", returned, import_id,
                          f"hold resized from {hold.credits} to {credits} credits")
        connection.execute(
            update(holds).where(holds.c.import_id == import_id).values(credits=credits)
        )
        logger.info("resized the hold of import %s from %d to %d credits",
                    import_id, hold.credits, credits)
        return _result(connection, _lock_hold(connection, import_id))


def capture_credits(engine: Engine, import_id: str, credits: int) -> Hold:
    """Charge `credits` from the import's hold and return the rest to the balance.

    A hold that was already captured or released is returned unchanged, so a redelivered
    event never charges twice. Raises NotFound for an unknown import and InvalidRequest
    when `credits` exceeds the hold.
    """
    _require_id("import_id", import_id)
    if credits < 0:
        raise InvalidRequest(
            f"credits must be 0 or more, got {credits}", field="credits", value=credits
        )

    with database.write_transaction(engine) as connection:
        hold = _lock_hold(connection, import_id)
        if hold is None:
            raise _hold_not_found(import_id)
        if hold.status != HELD:
            return _result(connection, hold)
        if credits > hold.credits:
            raise InvalidRequest(
                f"import {import_id} has a hold of {hold.credits} credits but the capture "
                f"requests {credits}; extend the hold with HoldCredits first",
                field="credits", held=hold.credits, requested=credits,
            )

        returned = hold.credits - credits
        _change_account(connection, hold.account_id, balance=returned, held=-hold.credits)
        _append_entry(connection, hold.account_id, "capture", returned, import_id,
                      f"captured {credits} of {hold.credits} held credits")
        _settle(connection, import_id, CAPTURED, captured=credits)
        limits.release_slot(connection, import_id)
        logger.info("captured %d of %d held credits for import %s",
                    credits, hold.credits, import_id)
        captured = _result(connection, _lock_hold(connection, import_id))
    # Counted once the transaction has committed, and only by the call that captured.
    metrics.CREDITS_CHARGED.inc(credits)
    return captured


def release_credits(engine: Engine, import_id: str) -> Hold:
    """Return the whole hold to the balance; a settled hold is returned unchanged.

    Raises NotFound for an unknown import.
    """
    _require_id("import_id", import_id)

    with database.write_transaction(engine) as connection:
        hold = _lock_hold(connection, import_id)
        if hold is None:
            raise _hold_not_found(import_id)
        if hold.status != HELD:
            return _result(connection, hold)

        _change_account(connection, hold.account_id, balance=hold.credits, held=-hold.credits)
        _append_entry(connection, hold.account_id, "release", hold.credits, import_id,
                      f"released {hold.credits} held credits")
        _settle(connection, import_id, RELEASED, captured=0)
        limits.release_slot(connection, import_id)
        logger.info("released %d held credits for import %s", hold.credits, import_id)
        return _result(connection, _lock_hold(connection, import_id))


@dataclass(frozen=True)
class _SlotRequest:
    take: bool
    lease_seconds: float


def _hold_once(engine: Engine, import_id: str, account_id: str, credits: int,
               slot: _SlotRequest) -> Hold:
    with database.write_transaction(engine) as connection:
        hold = _lock_hold(connection, import_id)
        if hold is None:
            if slot.take:
                # Load first, so an unknown account is reported as NotFound.
                load_account(connection, account_id)
                limits.take_slot(connection, account_id, IMPORT_SLOTS, import_id, "/import",
                                 slot.lease_seconds, utc_now())
            _reserve(connection, account_id, credits, import_id, "credits held for the import")
            connection.execute(
                insert(holds).values(
                    import_id=import_id, account_id=account_id, credits=credits, captured=0,
                    status=HELD, created_at=utc_now(),
                )
            )
            logger.info("held %d credits for import %s", credits, import_id)
            return _result(connection, _lock_hold(connection, import_id))

        if hold.account_id != account_id:
            raise InvalidRequest(
                f"import {import_id} already has a hold on another account's credits; "
                "use a new import id",
                field="import_id",
            )
        if hold.status != HELD:
            return _result(connection, hold)
        limits.renew_slot(connection, import_id, utc_now(), slot.lease_seconds)
        if hold.credits >= credits:
            return _result(connection, hold)

        extra = credits - hold.credits
        _reserve(connection, account_id, extra, import_id,
                 f"hold extended from {hold.credits} to {credits} credits", extension=True)
        connection.execute(
            update(holds).where(holds.c.import_id == import_id).values(credits=credits)
        )
        logger.info("extended the hold of import %s from %d to %d credits",
                    import_id, hold.credits, credits)
        return _result(connection, _lock_hold(connection, import_id))


def _reserve(connection: Connection, account_id: str, credits: int, import_id: str,
             reason: str, *, extension: bool = False) -> None:
    """Move `credits` from the balance to held, or raise InsufficientCredits."""
    moved = connection.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .where(accounts.c.balance >= credits)
        .values(balance=accounts.c.balance - credits, held=accounts.c.held + credits)
    )
    if moved.rowcount == 1:
        _append_entry(connection, account_id, "hold", -credits, import_id, reason)
        return

    available = load_account(connection, account_id).balance
    logger.info("import %s needs %d credits but the balance is %d",
                import_id, credits, available)
    more = "more " if extension else ""
    raise InsufficientCredits(
        f"import needs {credits} {more}credits but the balance is {available}; "
        "add credits and retry",
        needed=credits, available=available,
    )


def _change_account(connection: Connection, account_id: str, *, balance: int,
                    held: int) -> None:
    connection.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance=accounts.c.balance + balance, held=accounts.c.held + held)
    )


def _append_entry(connection: Connection, account_id: str, kind: str, amount: int,
                  import_id: str, reason: str) -> None:
    connection.execute(
        insert(entries).values(
            account_id=account_id, kind=kind, amount=amount, import_id=import_id,
            reason=reason, created_at=utc_now(),
        )
    )


def _settle(connection: Connection, import_id: str, status: str, *, captured: int) -> None:
    connection.execute(
        update(holds)
        .where(holds.c.import_id == import_id)
        .values(status=status, captured=captured, settled_at=utc_now())
    )


def _lock_hold(connection: Connection, import_id: str) -> Row | None:
    # SQLite's dialect leaves FOR UPDATE out, because the write transaction already has
    # the database lock.
    statement = select(holds).where(holds.c.import_id == import_id).with_for_update()
    return connection.execute(statement).first()


def _result(connection: Connection, hold: Row | None) -> Hold:
    assert hold is not None, "the hold was read in the same transaction"
    account = load_account(connection, hold.account_id)
    return Hold(hold.import_id, hold.account_id, hold.status, hold.credits, hold.captured,
                account.balance, account.limits.max_file_megabytes * 10**6)


def _hold_not_found(import_id: str) -> NotFound:
    return NotFound(
        f"no credit hold for import {import_id!r}; hold credits with HoldCredits first",
        import_id=import_id,
    )


def _require_id(field: str, value: str) -> None:
    if not value.strip():
        raise InvalidRequest(f"{field} is missing; pass the {field}", field=field)
