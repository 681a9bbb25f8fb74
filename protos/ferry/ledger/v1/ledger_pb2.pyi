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
    __slots__ = ("account_id", "name", "balance", "held", "created_at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    balance: int
    held: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., balance: _Optional[int] = ..., held: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("name", "credits")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    name: str
    credits: int
    def __init__(self, name: _Optional[str] = ..., credits: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    def __init__(self, api_key: _Optional[str] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("import_id", "account_id", "status", "credits", "captured", "balance")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    account_id: str
    status: HoldStatus
    credits: int
    captured: int
    balance: int
    def __init__(self, import_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[HoldStatus, str]] = ..., credits: _Optional[int] = ..., captured: _Optional[int] = ..., balance: _Optional[int] = ...) -> None: ...

class HoldCreditsRequest(_message.Message):
    __slots__ = ("import_id", "account_id", "credits")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    account_id: str
    credits: int
    def __init__(self, import_id: _Optional[str] = ..., account_id: _Optional[str] = ..., credits: _Optional[int] = ...) -> None: ...

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
