"""The webhook body (flat JSON, as Importly sends it) and its Standard Webhooks headers.

The fields are documented in docs/webhooks.md. Every field is always present, with null
for a value that does not apply, so a receiver can rely on the keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.events.v1 import events_pb2
from google.protobuf import json_format
from standardwebhooks.webhooks import Webhook

from services.notifier.transport import USER_AGENT
from services.shared.bus import EventType
from services.shared.timestamps import format_timestamp

SourceEvent = events_pb2.ImportEvent | events_pb2.MetadataEvent

_EVENT_TYPES = {
    events_pb2.EVENT_TYPE_IMPORT_COMPLETED: EventType.IMPORT_COMPLETED,
    events_pb2.EVENT_TYPE_IMPORT_FAILED: EventType.IMPORT_FAILED,
    events_pb2.EVENT_TYPE_METADATA_COMPLETED: EventType.METADATA_COMPLETED,
    events_pb2.EVENT_TYPE_METADATA_FAILED: EventType.METADATA_FAILED,
    events_pb2.EVENT_TYPE_IMPORT_CANCELLED: EventType.IMPORT_CANCELLED,
}
_PROTO_TYPES = {event_type: proto for proto, event_type in _EVENT_TYPES.items()}
_STATUSES = {
    EventType.IMPORT_COMPLETED: "completed",
    EventType.IMPORT_FAILED: "failed",
    EventType.IMPORT_CANCELLED: "cancelled",
    EventType.METADATA_COMPLETED: "completed",
    EventType.METADATA_FAILED: "failed",
}
_IMPORT_TYPES = (EventType.IMPORT_COMPLETED, EventType.IMPORT_FAILED, EventType.IMPORT_CANCELLED)

TEST_MESSAGE = "Test event sent by POST /webhooks/test; no import or job exists for it."


def event_type_of(event: SourceEvent) -> EventType | None:
    """Return the webhook type of `event`, or None for a type the notifier doesn't send."""
    event_type = _EVENT_TYPES.get(event.type)
    if event_type is None:
        return None
    # An import event never carries a metadata type, and the other way round.
    if isinstance(event, events_pb2.ImportEvent) != (event_type in _IMPORT_TYPES):
        return None
    return event_type


def build_body(event: SourceEvent, event_type: EventType, *, test: bool = False) -> bytes:
    """Render the JSON body; these bytes are both signed and sent.

    A test event has one more field, `"test": true`.
    """
    if isinstance(event, events_pb2.ImportEvent):
        payload = _import_payload(event, event_type)
    else:
        payload = _metadata_payload(event, event_type)
    if test:
        payload["test"] = True
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _import_payload(event: events_pb2.ImportEvent, event_type: EventType) -> dict[str, Any]:
    record = event.record
    media = record.media if record.HasField("media") else None
    return {
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
        "errorCode": record.error_code or None,
        "createdAt": _optional_time(record, "created_at"),
        "startedAt": _optional_time(record, "started_at"),
        "finishedAt": _optional_time(record, "finished_at"),
        "expiresAt": _optional_time(record, "expires_at"),
        "timestamp": format_timestamp(event.occurred_at),
    }


def _metadata_payload(event: events_pb2.MetadataEvent, event_type: EventType) -> dict[str, Any]:
    result = None
    if event.HasField("result"):
        result = _whole_numbers(json_format.MessageToDict(event.result))
    return {
        "type": event_type.value,
        "jobId": event.job_id,
        "status": _STATUSES[event_type],
        "message": event.message,
        "errorCode": event.error_code or None,
        "result": result,
        "createdAt": _optional_time(event, "created_at"),
        "timestamp": format_timestamp(event.occurred_at),
    }


def _whole_numbers(value: Any) -> Any:
    # Struct stores every number as a double; give whole numbers back their int form, so a
    # height reads 1080 and not 1080.0.
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _optional_time(message: Any, field: str) -> str | None:
    return format_timestamp(getattr(message, field)) if message.HasField(field) else None


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


def sample_event(event_type: EventType, account_id: str, url: str, token: str) -> SourceEvent:
    """Build a realistic event of `event_type` for a test webhook; `token` makes its ids unique."""
    now = datetime.now(UTC)
    status = _STATUSES[event_type]
    if event_type in _IMPORT_TYPES:
        return _sample_import_event(event_type, account_id, url, token, now)

    job_id = f"meta_test_{token}"
    event = events_pb2.MetadataEvent(
        event_id=f"{job_id}.{status}",
        type=_PROTO_TYPES[event_type],
        job_id=job_id,
        account_id=account_id,
        webhook_url=url,
        message=TEST_MESSAGE,
    )
    if event_type is EventType.METADATA_COMPLETED:
        event.result.update(
            {
                "title": "Ferry test video",
                "duration": 12.5,
                "thumbnail": "https://example.com/ferry-test/thumbnail.jpg",
            }
        )
    else:
        event.error_code = "download_failed"
    event.created_at.FromDatetime(now - timedelta(seconds=2))
    event.occurred_at.FromDatetime(now)
    return event


def _sample_import_event(
    event_type: EventType, account_id: str, url: str, token: str, now: datetime
) -> events_pb2.ImportEvent:
    import_id = f"imp_test_{token}"
    status = _STATUSES[event_type]
    event = events_pb2.ImportEvent(
        event_id=f"{import_id}.{status}",
        type=_PROTO_TYPES[event_type],
    )
    record = event.record
    record.import_id = import_id
    record.account_id = account_id
    record.webhook_url = url
    record.message = TEST_MESSAGE
    record.created_at.FromDatetime(now - timedelta(seconds=10))
    record.started_at.FromDatetime(now - timedelta(seconds=9))
    record.finished_at.FromDatetime(now)
    if event_type is EventType.IMPORT_CANCELLED:
        record.cancelled_at.FromDatetime(now)
    elif event_type is EventType.IMPORT_COMPLETED:
        record.media_url = "https://example.com/ferry-test/video.mp4"
        record.media.title = "Ferry test video"
        record.media.duration_seconds = 12.5
        record.credits_used = 3
        record.expires_at.FromDatetime(now + timedelta(days=7))
    else:
        record.error_code = "download_failed"
    event.occurred_at.CopyFrom(record.finished_at)
    return event
