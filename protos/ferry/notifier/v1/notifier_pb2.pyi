import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ferry.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_OUTCOME_UNSPECIFIED: _ClassVar[DeliveryOutcome]
    DELIVERY_OUTCOME_DELIVERED: _ClassVar[DeliveryOutcome]
    DELIVERY_OUTCOME_RETRYING: _ClassVar[DeliveryOutcome]
    DELIVERY_OUTCOME_FAILED: _ClassVar[DeliveryOutcome]
DELIVERY_OUTCOME_UNSPECIFIED: DeliveryOutcome
DELIVERY_OUTCOME_DELIVERED: DeliveryOutcome
DELIVERY_OUTCOME_RETRYING: DeliveryOutcome
DELIVERY_OUTCOME_FAILED: DeliveryOutcome

class DeliveryAttempt(_message.Message):
    __slots__ = ("message_id", "event_type", "url", "attempt", "attempted_at", "http_status", "latency_seconds", "error", "outcome", "delivery_id")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTED_AT_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    event_type: str
    url: str
    attempt: int
    attempted_at: _timestamp_pb2.Timestamp
    http_status: int
    latency_seconds: float
    error: str
    outcome: DeliveryOutcome
    delivery_id: str
    def __init__(self, message_id: _Optional[str] = ..., event_type: _Optional[str] = ..., url: _Optional[str] = ..., attempt: _Optional[int] = ..., attempted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., http_status: _Optional[int] = ..., latency_seconds: _Optional[float] = ..., error: _Optional[str] = ..., outcome: _Optional[_Union[DeliveryOutcome, str]] = ..., delivery_id: _Optional[str] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("account_id", "import_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    import_id: str
    def __init__(self, account_id: _Optional[str] = ..., import_id: _Optional[str] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("attempts",)
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[DeliveryAttempt]
    def __init__(self, attempts: _Optional[_Iterable[_Union[DeliveryAttempt, _Mapping]]] = ...) -> None: ...

class RedeliverRequest(_message.Message):
    __slots__ = ("account_id", "import_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    import_id: str
    def __init__(self, account_id: _Optional[str] = ..., import_id: _Optional[str] = ...) -> None: ...

class RedeliverResponse(_message.Message):
    __slots__ = ("delivery_id", "message_id", "event_type", "url")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    message_id: str
    event_type: str
    url: str
    def __init__(self, delivery_id: _Optional[str] = ..., message_id: _Optional[str] = ..., event_type: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class SendTestWebhookRequest(_message.Message):
    __slots__ = ("account_id", "url", "event_type")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    url: str
    event_type: str
    def __init__(self, account_id: _Optional[str] = ..., url: _Optional[str] = ..., event_type: _Optional[str] = ...) -> None: ...

class SendTestWebhookResponse(_message.Message):
    __slots__ = ("attempt", "body")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    attempt: DeliveryAttempt
    body: str
    def __init__(self, attempt: _Optional[_Union[DeliveryAttempt, _Mapping]] = ..., body: _Optional[str] = ...) -> None: ...

class WebhookRedelivery(_message.Message):
    __slots__ = ("delivery_id", "requested_at", "import_event", "metadata_event")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    IMPORT_EVENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_EVENT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    requested_at: _timestamp_pb2.Timestamp
    import_event: _events_pb2.ImportEvent
    metadata_event: _events_pb2.MetadataEvent
    def __init__(self, delivery_id: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., import_event: _Optional[_Union[_events_pb2.ImportEvent, _Mapping]] = ..., metadata_event: _Optional[_Union[_events_pb2.MetadataEvent, _Mapping]] = ...) -> None: ...
