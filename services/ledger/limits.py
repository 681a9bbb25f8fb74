"""Per-account limits: request rates in fixed one-hour windows, and concurrency slots.

Counters and slots live in the ledger database, so every gateway replica and importer
shares them. A rate counter is one row per account, limit and window, incremented by a
single upsert that only succeeds below the quota, so concurrent requests can't overshoot
it. Taking a slot locks the account row first (SQLite's write lock does the same), so
two requests can't both take the last slot.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from services.ledger.schema import DEFAULT_LIMITS, accounts, rate_counters, slots
from services.shared.errors import InvalidRequest, RateLimited

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
# The rate limit each request class counts against, and the account column of its quota.
RATE_LIMITS = {
    "imports": "imports_per_hour",
    "metadata": "metadata_per_hour",
    "status": "status_per_hour",
}
CONCURRENCY_LIMITS = {"imports": "concurrent_imports", "metadata": "concurrent_metadata"}
# Retry-After hint when the concurrency cap is hit. The end of a running import is
# unknown, so the hint is a short fixed delay.
CONCURRENCY_RETRY_AFTER_SECONDS = 5
# Largest accepted value of any limit, to catch typing mistakes such as an extra zero run.
MAX_LIMIT = 10**9


@dataclass(frozen=True)
class Limits:
    imports_per_hour: int
    concurrent_imports: int
    metadata_per_hour: int
    concurrent_metadata: int
    status_per_hour: int
    max_file_megabytes: int

    @classmethod
    def defaults(cls) -> Limits:
        return cls(**DEFAULT_LIMITS)

    @classmethod
    def from_row(cls, row: Row) -> Limits:
        return cls(**{name: getattr(row, name) for name in DEFAULT_LIMITS})

    @property
    def plan(self) -> str:
        """Return "standard" for Importly's default limits and "custom" for any other."""
        return "standard" if dataclasses.asdict(self) == DEFAULT_LIMITS else "custom"


@dataclass(frozen=True)
class RateLimitState:
    """The quota, remaining requests and reset time of one rate limit after a request."""

    limit: str
    quota: int
    remaining: int
    # Unix time (seconds) when the window ends and the quota refills.
    reset_at: int
    window_seconds: int
    plan: str


def validate_limits(changes: dict[str, int]) -> dict[str, int]:
    """Return `changes` if every value is a whole number from 1 to MAX_LIMIT."""
    for name, value in changes.items():
        if name not in DEFAULT_LIMITS:
            raise InvalidRequest(f"unknown limit {name!r}; use one of {', '.join(DEFAULT_LIMITS)}",
                                 field=name)
        if not 1 <= value <= MAX_LIMIT:
            raise InvalidRequest(
                f"{name} must be from 1 to {MAX_LIMIT}, got {value}", field=name, value=value
            )
    return changes


def set_limits(connection: Connection, account_id: str, changes: dict[str, int]) -> None:
    """Store the changed limits of an account that the caller has loaded."""
    if changes:
        connection.execute(
            update(accounts).where(accounts.c.id == account_id).values(**changes)
        )
        logger.info("changed the limits of account %s: %s", account_id, changes)


def count_request(
    connection: Connection,
    account_id: str,
    limits: Limits,
    limit: str,
    endpoint: str,
    now: datetime,
) -> RateLimitState:
    """Count one request against the account's rate limit `limit`, or raise RateLimited."""
    quota = getattr(limits, _rate_column(limit))
    now_seconds = int(now.timestamp())
    window_start = now_seconds - now_seconds % WINDOW_SECONDS
    reset_at = window_start + WINDOW_SECONDS

    count = _increment_below(connection, account_id, limit, window_start, quota)
    if count is None:
        retry_after = max(1, reset_at - now_seconds)
        logger.info("account %s reached its rate limit of %d %s requests per hour",
                    account_id, quota, limit)
        raise RateLimited(
            f"rate limit reached: {quota} {limit} requests per hour; "
            f"retry after {retry_after} s, when the window resets",
            limit=quota, remaining=0, reset=reset_at, retryAfter=retry_after,
            endpoint=endpoint, window=WINDOW_SECONDS, plan=limits.plan,
        )

    if count == 1:
        # The first request of a window removes the account's older windows of this limit.
        connection.execute(
            delete(rate_counters)
            .where(rate_counters.c.account_id == account_id)
            .where(rate_counters.c.limit_name == limit)
            .where(rate_counters.c.window_start < window_start)
        )
    return RateLimitState(limit, quota, quota - count, reset_at, WINDOW_SECONDS, limits.plan)


def take_slot(
    connection: Connection,
    account_id: str,
    limit: str,
    slot_id: str,
    endpoint: str,
    lease_seconds: float,
    now: datetime,
) -> None:
    """Take a concurrency slot `slot_id` under `limit`, or raise RateLimited at the cap.

    Taking a slot that exists renews its lease. Slots whose lease has ended are deleted
    first, so a crashed caller's slots come back once their lease runs out.
    """
    column = CONCURRENCY_LIMITS.get(limit)
    if column is None:
        raise InvalidRequest(
            f"limit {limit!r} has no concurrency cap; use one of {', '.join(CONCURRENCY_LIMITS)}",
            field="limit",
        )
    account = connection.execute(
        select(accounts).where(accounts.c.id == account_id).with_for_update()
    ).one()
    cap = getattr(account, column)
    expires_at = now + timedelta(seconds=lease_seconds)

    connection.execute(
        delete(slots)
        .where(slots.c.account_id == account_id)
        .where(slots.c.limit_name == limit)
        .where(slots.c.expires_at <= now)
    )
    if renew_slot(connection, slot_id, now, lease_seconds):
        return

    running = connection.execute(
        select(func.count())
        .select_from(slots)
        .where(slots.c.account_id == account_id)
        .where(slots.c.limit_name == limit)
    ).scalar_one()
    if running >= cap:
        logger.info("account %s already runs %d of %d concurrent %s", account_id, running, cap,
                    limit)
        raise RateLimited(
            f"concurrency limit reached: {running} {limit} requests are running and the "
            f"account allows {cap} at once; retry when one finishes",
            code=RateLimited.CONCURRENCY_CODE,
            concurrentLimit=cap, currentConcurrent=running, endpoint=endpoint,
            retryAfter=CONCURRENCY_RETRY_AFTER_SECONDS,
        )

    connection.execute(
        slots.insert().values(
            id=slot_id, account_id=account_id, limit_name=limit, created_at=now,
            expires_at=expires_at,
        )
    )


def renew_slot(connection: Connection, slot_id: str, now: datetime, lease_seconds: float) -> bool:
    """Extend the lease of slot `slot_id`; return False when there is no such slot."""
    renewed = connection.execute(
        update(slots)
        .where(slots.c.id == slot_id)
        .values(expires_at=now + timedelta(seconds=lease_seconds))
    )
    return renewed.rowcount == 1


def release_slot(connection: Connection, slot_id: str) -> None:
    """Free slot `slot_id`; a slot that is already gone is fine."""
    connection.execute(delete(slots).where(slots.c.id == slot_id))


def count_slots(connection: Connection, account_id: str, limit: str, now: datetime) -> int:
    """Return how many unexpired `limit` slots the account holds."""
    return connection.execute(
        select(func.count())
        .select_from(slots)
        .where(slots.c.account_id == account_id)
        .where(slots.c.limit_name == limit)
        .where(slots.c.expires_at > now)
    ).scalar_one()


def _rate_column(limit: str) -> str:
    column = RATE_LIMITS.get(limit)
    if column is None:
        raise InvalidRequest(
            f"unknown rate limit {limit!r}; use one of {', '.join(RATE_LIMITS)}", field="limit"
        )
    return column


def _increment_below(
    connection: Connection, account_id: str, limit: str, window_start: int, quota: int
) -> int | None:
    """Add 1 to the window's counter unless it has reached `quota`; return the new count."""
    dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(rate_counters).values(
        account_id=account_id, limit_name=limit, window_start=window_start, count=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["account_id", "limit_name", "window_start"],
        set_={"count": rate_counters.c.count + 1},
        where=rate_counters.c.count < quota,
    ).returning(rate_counters.c.count)
    row = connection.execute(statement).first()
    return None if row is None else int(row.count)
