"""Render protobuf timestamps the one way Ferry's REST responses and webhooks show them."""

from __future__ import annotations

from google.protobuf import timestamp_pb2


def format_timestamp(stamp: timestamp_pb2.Timestamp) -> str:
    """Format `stamp` as ISO 8601 in UTC with milliseconds, such as 2025-01-31T12:00:00.250Z.

    This is the form JavaScript's Date.toISOString() writes.
    """
    # ToDatetime() returns a naive datetime in UTC.
    return stamp.ToDatetime().isoformat(timespec="milliseconds") + "Z"
