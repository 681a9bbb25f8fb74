import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HoldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATUS_UNSPECIFIED: _ClassVar[HoldStatus]
    HOLD_STATUS_HELD: _ClassVar[HoldStatus]
    HOLD_STATUS_CAPTURED: _ClassVar[HoldStatus]
    HOLD_STATUS_RELEASED: _ClassVar[HoldStatus]
HOLD_STATUS_UNSPECIFIED: HoldStatus
HOLD_STATUS_HELD: HoldStatus
HOLD_STATUS_CAPTURED: HoldStatus
HOLD_STATUS_RELEASED: HoldStatus

class Account(_message.Message):
    __slots__ = ("account_id", "name", "balance", "held", "created_at", "limits", "usage")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    balance: int
    held: int
    created_at: _timestamp_pb2.Timestamp
    limits: Limits
    usage: Usage
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., balance: _Optional[int] = ..., held: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("imports_per_hour", "concurrent_imports", "metadata_per_hour", "concurrent_metadata", "status_per_hour", "max_file_megabytes")
    IMPORTS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    CONCURRENT_IMPORTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    CONCURRENT_METADATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_MEGABYTES_FIELD_NUMBER: _ClassVar[int]
    imports_per_hour: int
    concurrent_imports: int
    metadata_per_hour: int
    concurrent_metadata: int
    status_per_hour: int
    max_file_megabytes: int
    def __init__(self, imports_per_hour: _Optional[int] = ..., concurrent_imports: _Optional[int] = ..., metadata_per_hour: _Optional[int] = ..., concurrent_metadata: _Optional[int] = ..., status_per_hour: _Optional[int] = ..., max_file_megabytes: _Optional[int] = ...) -> None: ...

class LimitsUpdate(_message.Message):
    __slots__ = ("imports_per_hour", "concurrent_imports", "metadata_per_hour", "concurrent_metadata", "status_per_hour", "max_file_megabytes")
    IMPORTS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    CONCURRENT_IMPORTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    CONCURRENT_METADATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_MEGABYTES_FIELD_NUMBER: _ClassVar[int]
    imports_per_hour: int
    concurrent_imports: int
    metadata_per_hour: int
    concurrent_metadata: int
    status_per_hour: int
    max_file_megabytes: int
    def __init__(self, imports_per_hour: _Optional[int] = ..., concurrent_imports: _Optional[int] = ..., metadata_per_hour: _Optional[int] = ..., concurrent_metadata: _Optional[int] = ..., status_per_hour: _Optional[int] = ..., max_file_megabytes: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("period_start", "period_end", "credits_used", "imports_completed", "imports_failed", "imports_running")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    CREDITS_USED_FIELD_NUMBER: _ClassVar[int]
    IMPORTS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    IMPORTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    IMPORTS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    credits_used: int
    imports_completed: int
    imports_failed: int
    imports_running: int
    def __init__(self, period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credits_used: _Optional[int] = ..., imports_completed: _Optional[int] = ..., imports_failed: _Optional[int] = ..., imports_running: _Optional[int] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("name", "credits", "limits")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    name: str
    credits: int
    limits: LimitsUpdate
    def __init__(self, name: _Optional[str] = ..., credits: _Optional[int] = ..., limits: _Optional[_Union[LimitsUpdate, _Mapping]] = ...) -> None: ...

class CreateAccountResponse(_message.Message):
    __slots__ = ("account", "api_key", "webhook_secret")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    account: Account
    api_key: str
    webhook_secret: str
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., api_key: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class AuthenticateRequest(_message.Message):
    __slots__ = ("api_key", "limit", "endpoint", "slot_id")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    SLOT_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    limit: str
    endpoint: str
    slot_id: str
    def __init__(self, api_key: _Optional[str] = ..., limit: _Optional[str] = ..., endpoint: _Optional[str] = ..., slot_id: _Optional[str] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("account_id", "rate_limit")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    rate_limit: RateLimitState
    def __init__(self, account_id: _Optional[str] = ..., rate_limit: _Optional[_Union[RateLimitState, _Mapping]] = ...) -> None: ...

class RateLimitState(_message.Message):
    __slots__ = ("limit", "quota", "remaining", "reset_at", "window_seconds", "plan")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_AT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    limit: str
    quota: int
    remaining: int
    reset_at: int
    window_seconds: int
    plan: str
    def __init__(self, limit: _Optional[str] = ..., quota: _Optional[int] = ..., remaining: _Optional[int] = ..., reset_at: _Optional[int] = ..., window_seconds: _Optional[int] = ..., plan: _Optional[str] = ...) -> None: ...

class ReleaseSlotRequest(_message.Message):
    __slots__ = ("slot_id",)
    SLOT_ID_FIELD_NUMBER: _ClassVar[int]
    slot_id: str
    def __init__(self, slot_id: _Optional[str] = ...) -> None: ...

class ReleaseSlotResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateWebhookSecretRequest(_message.Message):
    __slots__ = ("account_id", "overlap_seconds")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    overlap_seconds: int
    def __init__(self, account_id: _Optional[str] = ..., overlap_seconds: _Optional[int] = ...) -> None: ...

class RotateWebhookSecretResponse(_message.Message):
    __slots__ = ("webhook_secret", "previous_expires_at")
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    webhook_secret: str
    previous_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, webhook_secret: _Optional[str] = ..., previous_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("key_id", "account_id", "name", "prefix", "created_at", "revoked_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    account_id: str
    name: str
    prefix: str
    created_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[int] = ..., account_id: _Optional[str] = ..., name: _Optional[str] = ..., prefix: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("account_id", "name")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("key", "api_key")
    KEY_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    api_key: str
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("account_id", "key_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    key_id: int
    def __init__(self, account_id: _Optional[str] = ..., key_id: _Optional[int] = ...) -> None: ...

class ChangeCreditsRequest(_message.Message):
    __slots__ = ("account_id", "credits", "reason")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    credits: int
    reason: str
    def __init__(self, account_id: _Optional[str] = ..., credits: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CreditChange(_message.Message):
    __slots__ = ("account", "entry")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    account: Account
    entry: Entry
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class SetLimitsRequest(_message.Message):
    __slots__ = ("account_id", "limits")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    limits: LimitsUpdate
    def __init__(self, account_id: _Optional[str] = ..., limits: _Optional[_Union[LimitsUpdate, _Mapping]] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("entry_id", "kind", "amount", "import_id", "reason", "created_at")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    kind: str
    amount: int
    import_id: str
    reason: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[int] = ..., kind: _Optional[str] = ..., amount: _Optional[int] = ..., import_id: _Optional[str] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "cursor")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    cursor: str
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_cursor")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    next_cursor: str
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetWebhookSecretsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetWebhookSecretsResponse(_message.Message):
    __slots__ = ("secrets",)
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, secrets: _Optional[_Iterable[str]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("import_id", "account_id", "status", "credits", "captured", "balance", "max_file_bytes")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    account_id: str
    status: HoldStatus
    credits: int
    captured: int
    balance: int
    max_file_bytes: int
    def __init__(self, import_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[HoldStatus, str]] = ..., credits: _Optional[int] = ..., captured: _Optional[int] = ..., balance: _Optional[int] = ..., max_file_bytes: _Optional[int] = ...) -> None: ...

class HoldCreditsRequest(_message.Message):
    __slots__ = ("import_id", "account_id", "credits", "take_import_slot")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    TAKE_IMPORT_SLOT_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    account_id: str
    credits: int
    take_import_slot: bool
    def __init__(self, import_id: _Optional[str] = ..., account_id: _Optional[str] = ..., credits: _Optional[int] = ..., take_import_slot: _Optional[bool] = ...) -> None: ...

class ResizeHoldRequest(_message.Message):
    __slots__ = ("import_id", "credits")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    credits: int
    def __init__(self, import_id: _Optional[str] = ..., credits: _Optional[int] = ...) -> None: ...

class CaptureCreditsRequest(_message.Message):
    __slots__ = ("import_id", "credits")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    credits: int
    def __init__(self, import_id: _Optional[str] = ..., credits: _Optional[int] = ...) -> None: ...

class ReleaseCreditsRequest(_message.Message):
    __slots__ = ("import_id",)
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    def __init__(self, import_id: _Optional[str] = ...) -> None: ...
