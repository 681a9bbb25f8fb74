"""Account history: the ledger entries page by page, and this month's usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine, Row

from services.ledger import database
from services.ledger.accounts import as_utc, load_account
from services.ledger.schema import entries, holds
from services.shared.errors import InvalidRequest

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class EntryInfo:
    entry_id: int
    kind: str
    amount: int
    import_id: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class EntryPage:
    entries: list[EntryInfo]
    # Empty on the last page.
    next_cursor: str


@dataclass(frozen=True)
class Usage:
    period_start: datetime
    period_end: datetime
    credits_used: int
    imports_completed: int
    imports_failed: int
    imports_running: int


def entry_info(row: Row) -> EntryInfo:
    return EntryInfo(row.id, row.kind, row.amount, row.import_id or "", row.reason,
                     as_utc(row.created_at))


def list_entries(engine: Engine, account_id: str, page_size: int, cursor: str) -> EntryPage:
    """Return one page of the account's entries, newest first.

    The cursor is the id of the last entry of the previous page, so entries appended
    meanwhile never shift a page.
    """
    page_size = _page_size(page_size)
    before = _cursor(cursor)
    statement = (
        select(entries)
        .where(entries.c.account_id == account_id)
        .order_by(entries.c.id.desc())
        .limit(page_size + 1)
    )
    if before is not None:
        statement = statement.where(entries.c.id < before)

    with database.read_transaction(engine) as connection:
        load_account(connection, account_id)
        rows = connection.execute(statement).all()

    page = [entry_info(row) for row in rows[:page_size]]
    next_cursor = str(page[-1].entry_id) if len(rows) > page_size else ""
    return EntryPage(page, next_cursor)


def month_usage(connection: Connection, account_id: str, now: datetime) -> Usage:
    """Return the account's usage in the calendar month (UTC) that contains `now`."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    settled = (
        select(
            holds.c.status,
            func.count().label("imports"),
            func.coalesce(func.sum(holds.c.captured), 0).label("captured"),
        )
        .where(holds.c.account_id == account_id)
        .where(holds.c.settled_at >= start)
        .where(holds.c.settled_at < end)
        .group_by(holds.c.status)
    )
    by_status = {row.status: row for row in connection.execute(settled)}
    completed = by_status.get("captured")
    failed = by_status.get("released")
    return Usage(
        period_start=start,
        period_end=end,
        credits_used=int(completed.captured) if completed else 0,
        imports_completed=int(completed.imports) if completed else 0,
        imports_failed=int(failed.imports) if failed else 0,
        imports_running=_running_imports(connection, account_id),
    )


def _running_imports(connection: Connection, account_id: str) -> int:
    return connection.execute(
        select(func.count())
        .select_from(holds)
        .where(holds.c.account_id == account_id)
        .where(holds.c.status == "held")
    ).scalar_one()


def _page_size(page_size: int) -> int:
    if page_size == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRequest(
            f"page size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}",
            field="limit", value=page_size,
        )
    return page_size


def _cursor(cursor: str) -> int | None:
    cursor = cursor.strip()
    if not cursor:
        return None
    if not cursor.isdigit():
        raise InvalidRequest(
            f"cursor {cursor!r} is invalid; pass the nextCursor of the previous page",
            field="cursor", value=cursor,
        )
    return int(cursor)
