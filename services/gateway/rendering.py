"""Render import records and webhook delivery attempts as the JSON the REST API returns."""

from __future__ import annotations

from typing import Any

from ferry.importer.v1 import importer_pb2
from ferry.notifier.v1 import notifier_pb2

from services.shared.timestamps import format_timestamp

WEBHOOK_MESSAGE = "Media import has started. You will receive a webhook when it's complete."
POLL_MESSAGE = "Media import has started. Poll GET /import/status?id={import_id} for the result."

_STATUS_NAMES = {
    importer_pb2.IMPORT_STATUS_QUEUED: "queued",
    importer_pb2.IMPORT_STATUS_IMPORTING: "importing",
    importer_pb2.IMPORT_STATUS_COMPLETED: "completed",
    importer_pb2.IMPORT_STATUS_FAILED: "failed",
    importer_pb2.IMPORT_STATUS_CANCELLED: "cancelled",
    importer_pb2.IMPORT_STATUS_EXPIRED: "expired",
}
# Status names as GET /imports?status= accepts them.
STATUS_VALUES = {name: status for status, name in _STATUS_NAMES.items()}
_OUTCOME_NAMES = {
    notifier_pb2.DELIVERY_OUTCOME_DELIVERED: "delivered",
    notifier_pb2.DELIVERY_OUTCOME_RETRYING: "retrying",
    notifier_pb2.DELIVERY_OUTCOME_FAILED: "failed",
}


def render_started(record: importer_pb2.Import) -> dict[str, Any]:
    """Render the response data of POST /import for a newly queued import."""
    if record.webhook_url:
        message = WEBHOOK_MESSAGE
    else:
        message = POLL_MESSAGE.format(import_id=record.import_id)
    return {"importId": record.import_id, "status": status_name(record), "message": message}


def render_import(record: importer_pb2.Import) -> dict[str, Any]:
    """Render an import for GET /import/status.

    Importly's fields (importId, status, mediaUrl, title, duration, creditsUsed, message)
    come first; Ferry's extras are added only when they apply to the import's status.
    """
    status = status_name(record)
    data: dict[str, Any] = {"importId": record.import_id, "status": status}
    if status == "completed":
        data["mediaUrl"] = record.media_url
    if record.HasField("media"):
        data["title"] = record.media.title
        data["duration"] = record.media.duration_seconds
    data["creditsUsed"] = record.credits_used
    data["message"] = record.message

    for name, field in (
        ("createdAt", "created_at"),
        ("startedAt", "started_at"),
        ("finishedAt", "finished_at"),
        ("expiresAt", "expires_at"),
        ("expiredAt", "expired_at"),
        ("cancelledAt", "cancelled_at"),
    ):
        if record.HasField(field):
            data[name] = format_timestamp(getattr(record, field))

    if status == "importing":
        data["progress"] = {
            "downloadedBytes": record.progress.downloaded_bytes,
            "totalBytes": record.progress.total_bytes,
            "percent": round(record.progress.percent, 1),
        }
    if status == "completed":
        data.update(_media_details(record.media))
    if status == "failed":
        data["errorCode"] = record.error_code
    if status == "expired":
        # The media is gone, so the time it would have expired is not shown either.
        data.pop("expiresAt", None)
    return data


def render_attempt(attempt: notifier_pb2.DeliveryAttempt) -> dict[str, Any]:
    """Render one webhook delivery attempt for GET /import/webhooks."""
    return {
        "messageId": attempt.message_id,
        # Attempts logged before redeliveries existed have no delivery id of their own.
        "deliveryId": attempt.delivery_id or attempt.message_id,
        "eventType": attempt.event_type,
        "url": attempt.url,
        "attempt": attempt.attempt,
        "attemptedAt": format_timestamp(attempt.attempted_at),
        # The notifier stores 0 when no response arrived (timeout, refused connection).
        "httpStatus": attempt.http_status or None,
        "latencyMs": round(attempt.latency_seconds * 1000, 1),
        "error": attempt.error or None,
        "outcome": _OUTCOME_NAMES.get(attempt.outcome, "unknown"),
    }


def status_name(record: importer_pb2.Import) -> str:
    """Return Importly's name for the record's status; an unset status reads as queued."""
    return _STATUS_NAMES.get(record.status, "queued")


def _media_details(media: importer_pb2.MediaInfo) -> dict[str, Any]:
    return {
        "ext": media.ext,
        "filesize": media.size_bytes,
        "width": media.width,
        "height": media.height,
        "vcodec": media.vcodec,
        "acodec": media.acodec,
        "fps": media.fps,
    }
