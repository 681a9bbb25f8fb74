"""Turn a message from the events stream into the webhook delivery it requests."""

from __future__ import annotations

from dataclasses import dataclass

from ferry.events.v1 import events_pb2
from ferry.notifier.v1 import notifier_pb2

from services.notifier.payload import SourceEvent, event_type_of
from services.shared import bus
from services.shared.bus import EventType

IMPORT_EVENTS_PREFIX = "ferry.events.import."
METADATA_EVENTS_PREFIX = "ferry.events.metadata."


@dataclass(frozen=True)
class Notification:
    """One delivery of an event's webhook. Its attempts are logged under `log_key`."""

    event: SourceEvent
    event_type: EventType
    # The event id for the first delivery, a new id for each redelivery.
    delivery_id: str

    @property
    def message_id(self) -> str:
        return self.event.event_id

    @property
    def account_id(self) -> str:
        return account_of(self.event)

    @property
    def log_key(self) -> str:
        return log_key_of(self.event)

    @property
    def url(self) -> str:
        if isinstance(self.event, events_pb2.ImportEvent):
            return self.event.record.webhook_url
        return self.event.webhook_url


def decode(subject: str, data: bytes) -> Notification | None:
    """Decode a message of the events stream; None when it needs no webhook.

    Raises google.protobuf.message.DecodeError for a message that isn't valid protobuf.
    """
    event: SourceEvent
    if subject.startswith(IMPORT_EVENTS_PREFIX):
        event = events_pb2.ImportEvent.FromString(data)
        delivery_id = event.event_id
    elif subject.startswith(METADATA_EVENTS_PREFIX):
        event = events_pb2.MetadataEvent.FromString(data)
        delivery_id = event.event_id
    elif subject == bus.WEBHOOK_REDELIVERY_SUBJECT:
        redelivery = notifier_pb2.WebhookRedelivery.FromString(data)
        which = redelivery.WhichOneof("event")
        if which is None:
            return None
        event = getattr(redelivery, which)
        delivery_id = redelivery.delivery_id
    else:
        return None

    event_type = event_type_of(event)
    if event_type is None:
        return None
    return Notification(event, event_type, delivery_id)


def account_of(event: SourceEvent) -> str:
    """Return the id of the account that owns `event`."""
    if isinstance(event, events_pb2.ImportEvent):
        return event.record.account_id
    return event.account_id


def log_key_of(event: SourceEvent) -> str:
    """Return the import id or metadata job id that the delivery log files `event` under."""
    if isinstance(event, events_pb2.ImportEvent):
        return event.record.import_id
    return event.job_id
