"""Convert the ledger's dataclasses to and from their protobuf messages."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from ferry.ledger.v1 import ledger_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.ledger import accounts, credits, keys, limits, usage
from services.ledger.schema import DEFAULT_LIMITS

_HOLD_STATUSES = {
    credits.HELD: ledger_pb2.HOLD_STATUS_HELD,
    credits.CAPTURED: ledger_pb2.HOLD_STATUS_CAPTURED,
    credits.RELEASED: ledger_pb2.HOLD_STATUS_RELEASED,
}


def timestamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


def limit_changes(update: ledger_pb2.LimitsUpdate) -> dict[str, int]:
    """Return the fields set in `update`, by column name."""
    return {name: getattr(update, name) for name in DEFAULT_LIMITS if update.HasField(name)}


def limits_message(account_limits: limits.Limits) -> ledger_pb2.Limits:
    return ledger_pb2.Limits(**dataclasses.asdict(account_limits))


def account_message(
    account: accounts.Account, account_usage: usage.Usage | None = None
) -> ledger_pb2.Account:
    message = ledger_pb2.Account(
        account_id=account.account_id,
        name=account.name,
        balance=account.balance,
        held=account.held,
        created_at=timestamp(account.created_at),
        limits=limits_message(account.limits),
    )
    if account_usage is not None:
        message.usage.CopyFrom(usage_message(account_usage))
    return message


def usage_message(account_usage: usage.Usage) -> ledger_pb2.Usage:
    return ledger_pb2.Usage(
        period_start=timestamp(account_usage.period_start),
        period_end=timestamp(account_usage.period_end),
        credits_used=account_usage.credits_used,
        imports_completed=account_usage.imports_completed,
        imports_failed=account_usage.imports_failed,
        imports_running=account_usage.imports_running,
    )


def rate_limit_message(state: limits.RateLimitState) -> ledger_pb2.RateLimitState:
    return ledger_pb2.RateLimitState(
        limit=state.limit,
        quota=state.quota,
        remaining=state.remaining,
        reset_at=state.reset_at,
        window_seconds=state.window_seconds,
        plan=state.plan,
    )


def api_key_message(info: keys.ApiKeyInfo) -> ledger_pb2.ApiKey:
    message = ledger_pb2.ApiKey(
        key_id=info.key_id,
        account_id=info.account_id,
        name=info.name,
        prefix=info.prefix,
        created_at=timestamp(info.created_at),
    )
    if info.revoked_at is not None:
        message.revoked_at.CopyFrom(timestamp(info.revoked_at))
    return message


def entry_message(entry: usage.EntryInfo) -> ledger_pb2.Entry:
    return ledger_pb2.Entry(
        entry_id=entry.entry_id,
        kind=entry.kind,
        amount=entry.amount,
        import_id=entry.import_id,
        reason=entry.reason,
        created_at=timestamp(entry.created_at),
    )


def hold_message(hold: credits.Hold) -> ledger_pb2.Hold:
    return ledger_pb2.Hold(
        import_id=hold.import_id,
        account_id=hold.account_id,
        status=_HOLD_STATUSES[hold.status],
        credits=hold.credits,
        captured=hold.captured,
        balance=hold.balance,
        max_file_bytes=hold.max_file_bytes,
    )
