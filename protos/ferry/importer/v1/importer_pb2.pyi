import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_STATUS_UNSPECIFIED: _ClassVar[ImportStatus]
    IMPORT_STATUS_QUEUED: _ClassVar[ImportStatus]
    IMPORT_STATUS_IMPORTING: _ClassVar[ImportStatus]
    IMPORT_STATUS_COMPLETED: _ClassVar[ImportStatus]
    IMPORT_STATUS_FAILED: _ClassVar[ImportStatus]
    IMPORT_STATUS_CANCELLED: _ClassVar[ImportStatus]
    IMPORT_STATUS_EXPIRED: _ClassVar[ImportStatus]

class MetadataStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METADATA_STATUS_UNSPECIFIED: _ClassVar[MetadataStatus]
    METADATA_STATUS_QUEUED: _ClassVar[MetadataStatus]
    METADATA_STATUS_PROCESSING: _ClassVar[MetadataStatus]
    METADATA_STATUS_COMPLETED: _ClassVar[MetadataStatus]
    METADATA_STATUS_FAILED: _ClassVar[MetadataStatus]
IMPORT_STATUS_UNSPECIFIED: ImportStatus
IMPORT_STATUS_QUEUED: ImportStatus
IMPORT_STATUS_IMPORTING: ImportStatus
IMPORT_STATUS_COMPLETED: ImportStatus
IMPORT_STATUS_FAILED: ImportStatus
IMPORT_STATUS_CANCELLED: ImportStatus
IMPORT_STATUS_EXPIRED: ImportStatus
METADATA_STATUS_UNSPECIFIED: MetadataStatus
METADATA_STATUS_QUEUED: MetadataStatus
METADATA_STATUS_PROCESSING: MetadataStatus
METADATA_STATUS_COMPLETED: MetadataStatus
METADATA_STATUS_FAILED: MetadataStatus

class FormatRequest(_message.Message):
    __slots__ = ("format", "quality", "include_video", "include_audio", "video_quality", "audio_quality")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VIDEO_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_AUDIO_FIELD_NUMBER: _ClassVar[int]
    VIDEO_QUALITY_FIELD_NUMBER: _ClassVar[int]
    AUDIO_QUALITY_FIELD_NUMBER: _ClassVar[int]
    format: str
    quality: str
    include_video: bool
    include_audio: bool
    video_quality: str
    audio_quality: str
    def __init__(self, format: _Optional[str] = ..., quality: _Optional[str] = ..., include_video: _Optional[bool] = ..., include_audio: _Optional[bool] = ..., video_quality: _Optional[str] = ..., audio_quality: _Optional[str] = ...) -> None: ...

class StartImportRequest(_message.Message):
    __slots__ = ("account_id", "url", "format", "webhook_url", "idempotency_key")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    url: str
    format: FormatRequest
    webhook_url: str
    idempotency_key: str
    def __init__(self, account_id: _Optional[str] = ..., url: _Optional[str] = ..., format: _Optional[_Union[FormatRequest, _Mapping]] = ..., webhook_url: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetImportRequest(_message.Message):
    __slots__ = ("account_id", "import_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    import_id: str
    def __init__(self, account_id: _Optional[str] = ..., import_id: _Optional[str] = ...) -> None: ...

class CancelImportRequest(_message.Message):
    __slots__ = ("account_id", "import_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    import_id: str
    def __init__(self, account_id: _Optional[str] = ..., import_id: _Optional[str] = ...) -> None: ...

class ListImportsRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "cursor", "statuses", "created_after", "created_before")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    cursor: str
    statuses: _containers.RepeatedScalarFieldContainer[ImportStatus]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., cursor: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[ImportStatus, str]]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListImportsResponse(_message.Message):
    __slots__ = ("imports", "next_cursor")
    IMPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    imports: _containers.RepeatedCompositeFieldContainer[Import]
    next_cursor: str
    def __init__(self, imports: _Optional[_Iterable[_Union[Import, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("downloaded_bytes", "total_bytes", "percent")
    DOWNLOADED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    downloaded_bytes: int
    total_bytes: int
    percent: float
    def __init__(self, downloaded_bytes: _Optional[int] = ..., total_bytes: _Optional[int] = ..., percent: _Optional[float] = ...) -> None: ...

class MediaInfo(_message.Message):
    __slots__ = ("title", "duration_seconds", "ext", "size_bytes", "width", "height", "vcodec", "acodec", "fps")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VCODEC_FIELD_NUMBER: _ClassVar[int]
    ACODEC_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    title: str
    duration_seconds: float
    ext: str
    size_bytes: int
    width: int
    height: int
    vcodec: str
    acodec: str
    fps: float
    def __init__(self, title: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., ext: _Optional[str] = ..., size_bytes: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., vcodec: _Optional[str] = ..., acodec: _Optional[str] = ..., fps: _Optional[float] = ...) -> None: ...

class Import(_message.Message):
    __slots__ = ("import_id", "account_id", "status", "url", "format", "format_selector", "webhook_url", "media_url", "object_key", "media", "credits_used", "message", "progress", "attempts", "created_at", "started_at", "finished_at", "expires_at", "error_code", "expired_at", "cancelled_at")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URL_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    CREDITS_USED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    account_id: str
    status: ImportStatus
    url: str
    format: FormatRequest
    format_selector: str
    webhook_url: str
    media_url: str
    object_key: str
    media: MediaInfo
    credits_used: int
    message: str
    progress: Progress
    attempts: int
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    error_code: str
    expired_at: _timestamp_pb2.Timestamp
    cancelled_at: _timestamp_pb2.Timestamp
    def __init__(self, import_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[ImportStatus, str]] = ..., url: _Optional[str] = ..., format: _Optional[_Union[FormatRequest, _Mapping]] = ..., format_selector: _Optional[str] = ..., webhook_url: _Optional[str] = ..., media_url: _Optional[str] = ..., object_key: _Optional[str] = ..., media: _Optional[_Union[MediaInfo, _Mapping]] = ..., credits_used: _Optional[int] = ..., message: _Optional[str] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., attempts: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_code: _Optional[str] = ..., expired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartMetadataRequest(_message.Message):
    __slots__ = ("account_id", "url", "basic", "webhook_url")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    BASIC_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    url: str
    basic: bool
    webhook_url: str
    def __init__(self, account_id: _Optional[str] = ..., url: _Optional[str] = ..., basic: _Optional[bool] = ..., webhook_url: _Optional[str] = ...) -> None: ...

class GetMetadataRequest(_message.Message):
    __slots__ = ("account_id", "metadata_id", "basic")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_ID_FIELD_NUMBER: _ClassVar[int]
    BASIC_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    metadata_id: str
    basic: bool
    def __init__(self, account_id: _Optional[str] = ..., metadata_id: _Optional[str] = ..., basic: _Optional[bool] = ...) -> None: ...

class FormatPreset(_message.Message):
    __slots__ = ("name", "selector", "ext", "height", "width", "vcodec", "acodec", "estimated_size_bytes", "estimated_credits", "fps")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    VCODEC_FIELD_NUMBER: _ClassVar[int]
    ACODEC_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_CREDITS_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    selector: str
    ext: str
    height: int
    width: int
    vcodec: str
    acodec: str
    estimated_size_bytes: int
    estimated_credits: int
    fps: float
    def __init__(self, name: _Optional[str] = ..., selector: _Optional[str] = ..., ext: _Optional[str] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., vcodec: _Optional[str] = ..., acodec: _Optional[str] = ..., estimated_size_bytes: _Optional[int] = ..., estimated_credits: _Optional[int] = ..., fps: _Optional[float] = ...) -> None: ...

class MediaMetadata(_message.Message):
    __slots__ = ("title", "duration_seconds", "thumbnail", "uploader", "presets")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_FIELD_NUMBER: _ClassVar[int]
    PRESETS_FIELD_NUMBER: _ClassVar[int]
    title: str
    duration_seconds: float
    thumbnail: str
    uploader: str
    presets: _containers.RepeatedCompositeFieldContainer[FormatPreset]
    def __init__(self, title: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., thumbnail: _Optional[str] = ..., uploader: _Optional[str] = ..., presets: _Optional[_Iterable[_Union[FormatPreset, _Mapping]]] = ...) -> None: ...

class MetadataJob(_message.Message):
    __slots__ = ("metadata_id", "account_id", "status", "url", "basic", "webhook_url", "metadata", "message", "error_code", "created_at", "started_at", "finished_at")
    METADATA_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    BASIC_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    metadata_id: str
    account_id: str
    status: MetadataStatus
    url: str
    basic: bool
    webhook_url: str
    metadata: MediaMetadata
    message: str
    error_code: str
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, metadata_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[MetadataStatus, str]] = ..., url: _Optional[str] = ..., basic: _Optional[bool] = ..., webhook_url: _Optional[str] = ..., metadata: _Optional[_Union[MediaMetadata, _Mapping]] = ..., message: _Optional[str] = ..., error_code: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
