"""The webhook body (flat JSON, as Importly sends it) and its Standard Webhooks headers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ferry.events.v1 import events_pb2
from standardwebhooks.webhooks import Webhook

from services.notifier.transport import USER_AGENT
from services.shared.bus import EventType
from services.shared.metadata_view import render_metadata_job

_EVENT_TYPES = {
    events_pb2.EVENT_TYPE_IMPORT_COMPLETED: EventType.IMPORT_COMPLETED,
    events_pb2.EVENT_TYPE_IMPORT_FAILED: EventType.IMPORT_FAILED,
}
_STATUSES = {EventType.IMPORT_COMPLETED: "completed", EventType.IMPORT_FAILED: "failed"}
_METADATA_EVENT_TYPES = {
    events_pb2.EVENT_TYPE_METADATA_COMPLETED: EventType.METADATA_COMPLETED,
    events_pb2.EVENT_TYPE_METADATA_FAILED: EventType.METADATA_FAILED,
}


def event_type_of(event: events_pb2.ImportEvent) -> EventType | None:
    """Return the webhook type of `event`, or None for a type the notifier doesn't send."""
    return _EVENT_TYPES.get(event.type)


def build_body(event: events_pb2.ImportEvent, event_type: EventType) -> bytes:
    """Render the JSON body; these bytes are both signed and sent."""
    record = event.record
    media = record.media if record.HasField("media") else None
    payload: dict[str, Any] = {
        "type": event_type.value,
        "importId": record.import_id,
        # Importly calls the import a job; receivers written for it read jobId.
        "jobId": record.import_id,
        "status": _STATUSES[event_type],
        "mediaUrl": record.media_url or None,
        "title": media.title if media and media.title else None,
        "duration": media.duration_seconds if media and media.duration_seconds else None,
        "creditsUsed": record.credits_used,
        "message": record.message,
        "timestamp": _isoformat(event.occurred_at.ToDatetime()),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def metadata_event_type_of(event: events_pb2.MetadataEvent) -> EventType | None:
    """Return the webhook type of a metadata event, or None for a type the notifier doesn't send."""
    return _METADATA_EVENT_TYPES.get(event.type)


def build_metadata_body(event: events_pb2.MetadataEvent, event_type: EventType) -> bytes:
    """Render the metadata webhook: the type, the job as GET /metadata/status shows it, a time."""
    payload: dict[str, Any] = {
        "type": event_type.value,
        **render_metadata_job(event.job),
        "timestamp": _isoformat(event.occurred_at.ToDatetime()),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _isoformat(moment: datetime) -> str:
    # Timestamp.ToDatetime() returns naive UTC; write it with a Z, as JavaScript's Date does.
    return moment.isoformat(timespec="milliseconds") + "Z"


def build_headers(
    message_id: str, sent_at: datetime, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """Sign `body` with every secret (current first) and return the request headers.

    `sent_at` must be the time of this attempt: receivers reject a webhook-timestamp more
    than 5 minutes away from their clock.
    """
    signatures = [Webhook(secret).sign(message_id, sent_at, body) for secret in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
