import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ferry.importer.v1 import importer_pb2 as _importer_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_IMPORT_COMPLETED: _ClassVar[EventType]
    EVENT_TYPE_IMPORT_FAILED: _ClassVar[EventType]
    EVENT_TYPE_METADATA_COMPLETED: _ClassVar[EventType]
    EVENT_TYPE_METADATA_FAILED: _ClassVar[EventType]
    EVENT_TYPE_IMPORT_CANCELLED: _ClassVar[EventType]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_IMPORT_COMPLETED: EventType
EVENT_TYPE_IMPORT_FAILED: EventType
EVENT_TYPE_METADATA_COMPLETED: EventType
EVENT_TYPE_METADATA_FAILED: EventType
EVENT_TYPE_IMPORT_CANCELLED: EventType

class ImportJob(_message.Message):
    __slots__ = ("import_id", "account_id")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    account_id: str
    def __init__(self, import_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ImportEvent(_message.Message):
    __slots__ = ("event_id", "type", "occurred_at", "record")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: EventType
    occurred_at: _timestamp_pb2.Timestamp
    record: _importer_pb2.Import
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[_Union[EventType, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., record: _Optional[_Union[_importer_pb2.Import, _Mapping]] = ...) -> None: ...

class MetadataEvent(_message.Message):
    __slots__ = ("event_id", "type", "occurred_at", "job_id", "account_id", "webhook_url", "message", "error_code", "result", "created_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: EventType
    occurred_at: _timestamp_pb2.Timestamp
    job_id: str
    account_id: str
    webhook_url: str
    message: str
    error_code: str
    result: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[_Union[EventType, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., job_id: _Optional[str] = ..., account_id: _Optional[str] = ..., webhook_url: _Optional[str] = ..., message: _Optional[str] = ..., error_code: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
