"""JSON renderings of ledger messages, shared by `GET /account` and the `ferry` command.

Kept free of database and web imports, so `ferry` loads quickly.
"""

from __future__ import annotations

from typing import Any

from ferry.ledger.v1 import ledger_pb2
from google.protobuf.timestamp_pb2 import Timestamp


def render_account(account: ledger_pb2.Account) -> dict[str, Any]:
    """Render an account as the JSON that `GET /account` and `ferry accounts show` print."""
    usage = account.usage
    return {
        "accountId": account.account_id,
        "name": account.name,
        "balance": account.balance,
        "held": account.held,
        "createdAt": format_time(account.created_at),
        "limits": render_limits(account.limits),
        "usage": {
            "periodStart": format_time(usage.period_start),
            "periodEnd": format_time(usage.period_end),
            "creditsUsed": usage.credits_used,
            "importsCompleted": usage.imports_completed,
            "importsFailed": usage.imports_failed,
            "importsRunning": usage.imports_running,
        },
    }


def render_limits(limits: ledger_pb2.Limits) -> dict[str, Any]:
    return {
        "imports": {"perHour": limits.imports_per_hour, "concurrent": limits.concurrent_imports},
        "metadata": {"perHour": limits.metadata_per_hour,
                     "concurrent": limits.concurrent_metadata},
        "status": {"perHour": limits.status_per_hour},
        "maxFileMegabytes": limits.max_file_megabytes,
    }


def render_entry(entry: ledger_pb2.Entry) -> dict[str, Any]:
    return {
        "id": entry.entry_id,
        "kind": entry.kind,
        "amount": entry.amount,
        "importId": entry.import_id or None,
        "reason": entry.reason,
        "createdAt": format_time(entry.created_at),
    }


def format_time(timestamp: Timestamp) -> str:
    """Format `timestamp` as ISO 8601 in UTC, such as 2025-01-31T12:00:00Z."""
    return timestamp.ToJsonString()
