"""Publish an import's final state on the events stream, once per status."""

from __future__ import annotations

from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2
from nats.js import JetStreamContext

from services.shared import bus

Status = importer_pb2.ImportStatus

# Final status: the event type, the webhook type and the suffix of the event id.
_EVENTS = {
    Status.IMPORT_STATUS_COMPLETED: (
        events_pb2.EVENT_TYPE_IMPORT_COMPLETED, bus.EventType.IMPORT_COMPLETED, "completed"
    ),
    Status.IMPORT_STATUS_FAILED: (
        events_pb2.EVENT_TYPE_IMPORT_FAILED, bus.EventType.IMPORT_FAILED, "failed"
    ),
    Status.IMPORT_STATUS_CANCELLED: (
        events_pb2.EVENT_TYPE_IMPORT_CANCELLED, bus.EventType.IMPORT_CANCELLED, "cancelled"
    ),
}


async def publish_final(js: JetStreamContext, record: importer_pb2.Import) -> None:
    """Publish the event of the record's final status; the event id makes it publish once.

    Raises ValueError for a status that has no event (queued, importing, expired).
    """
    if record.status not in _EVENTS:
        raise ValueError(f"import status {record.status} has no event")
    event_type, kind, suffix = _EVENTS[record.status]
    event = events_pb2.ImportEvent(
        event_id=f"{record.import_id}.{suffix}",
        type=event_type,
        occurred_at=record.finished_at,
        record=record,
    )
    await js.publish(
        kind.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.event_id}
    )
