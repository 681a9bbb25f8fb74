"""Read settings from FERRY_* environment variables; the only module that reads them.

Each service declares a frozen dataclass whose fields are made with `setting()`, and calls
`load()` once at start-up. A field whose type is itself such a dataclass (a settings
group) is loaded recursively, so groups such as `NatsSettings` are declared once.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A FERRY_* variable contains a value of the wrong form."""


def setting(env: str, default: Any, help: str) -> Any:
    """Declare a settings field read from the variable `env`, documented by `help`."""
    if isinstance(default, list | dict):
        raise TypeError("use a tuple for sequence defaults")
    return field(default=default, metadata={"env": env, "help": help})


def group(cls: type[T]) -> Any:
    """Declare a field holding a nested settings group."""
    return field(default_factory=cls, metadata={"group": True})


def load(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build `cls` from `environ` (default: os.environ), parsing each variable by type."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[spec.name]
        if spec.metadata.get("group"):
            values[spec.name] = load(kind, environ)
        elif spec.metadata.get("env") in environ:
            values[spec.name] = _parse(spec.metadata["env"], environ[spec.metadata["env"]], kind)
    return cls(**values)


@dataclass(frozen=True)
class SettingDoc:
    env: str
    default: Any
    help: str


def describe(cls: type) -> Iterator[SettingDoc]:
    """Yield every variable `cls` reads, including those of its groups."""
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        if spec.metadata.get("group"):
            yield from describe(hints[spec.name])
        elif "env" in spec.metadata:
            yield SettingDoc(spec.metadata["env"], spec.default, spec.metadata["help"])


def _parse(env: str, raw: str, kind: Any) -> Any:
    if isinstance(kind, types.UnionType):  # `X | None`: an empty value means None
        if raw.strip() == "":
            return None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    text = raw.strip()
    try:
        if kind is bool:
            return _parse_bool(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is Path:
            return Path(text)
        if typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            return tuple(item(part.strip()) for part in text.split(",") if part.strip())
        return raw
    except ValueError:
        raise ConfigError(
            f"{env}={raw!r} is not a valid {_describe_kind(kind)}; {_example(kind)}"
        ) from None


def _parse_bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(text)


def _describe_kind(kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return f"comma-separated list of {_describe_kind(typing.get_args(kind)[0])} values"
    return {bool: "boolean", int: "integer", float: "number"}.get(kind, "value")


def _example(kind: Any) -> str:
    if kind is bool:
        return "set it to 1 or 0"
    if kind is int:
        return "set it to a whole number such as 30"
    if kind is float:
        return "set it to a number such as 2.5"
    return "set it to values such as 5,300,1800"


# Settings groups shared by several services.


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("FERRY_LOG_LEVEL", "INFO", "Log level: DEBUG, INFO, WARNING or ERROR.")
    format: str = setting(
        "FERRY_LOG_FORMAT", "json", "Log line format: json (one object a line) or text."
    )


@dataclass(frozen=True)
class NatsSettings:
    url: str = setting(
        "FERRY_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL; comma-separate several."
    )
    replicas: int = setting(
        "FERRY_NATS_REPLICAS",
        1,
        "Copies JetStream keeps of each Ferry stream and key-value bucket: 1 for a single "
        "server, 3 for a 3-node cluster (at most 5, and at most the number of servers).",
    )

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= 5:
            raise ConfigError(
                f"FERRY_NATS_REPLICAS={self.replicas} is out of range; set it to 1 for a "
                "single NATS server or 3 for a 3-node cluster (JetStream allows 1 to 5)"
            )


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = setting(
        "FERRY_S3_ENDPOINT", "127.0.0.1:9000", "S3 endpoint as host:port, without a scheme."
    )
    public_endpoint: str = setting(
        "FERRY_S3_PUBLIC_ENDPOINT",
        "",
        "host:port that clients use to download media, when it differs from FERRY_S3_ENDPOINT.",
    )
    secure: bool = setting("FERRY_S3_SECURE", False, "Use HTTPS for the S3 endpoint.")
    access_key: str = setting("FERRY_S3_ACCESS_KEY", "ferry", "S3 access key.")
    secret_key: str = setting("FERRY_S3_SECRET_KEY", "ferry-secret", "S3 secret key.")
    region: str = setting("FERRY_S3_REGION", "us-east-1", "S3 region used for signing.")
    bucket: str = setting("FERRY_S3_BUCKET", "ferry-media", "Bucket that holds imported media.")


@dataclass(frozen=True)
class PeerSettings:
    """Addresses of the gRPC services, as host:port."""

    importer: str = setting("FERRY_IMPORTER_ADDR", "127.0.0.1:50061", "Importer gRPC address.")
    ledger: str = setting("FERRY_LEDGER_ADDR", "127.0.0.1:50062", "Ledger gRPC address.")
    notifier: str = setting("FERRY_NOTIFIER_ADDR", "127.0.0.1:50063", "Notifier gRPC address.")
    timeout_seconds: float = setting(
        "FERRY_GRPC_TIMEOUT_SECONDS", 10.0, "Deadline for each gRPC call between services."
    )


@dataclass(frozen=True)
class UrlPolicy:
    allow_private: bool = setting(
        "FERRY_ALLOW_PRIVATE_URLS",
        False,
        "Let media and webhook URLs reach loopback and private (RFC 1918, unique-local) "
        "addresses. Link-local and cloud-metadata addresses stay rejected.",
    )


@dataclass(frozen=True)
class RetentionSettings:
    seconds: int = setting(
        "FERRY_RETENTION_SECONDS",
        604800,
        "How long imported media is kept, in seconds (default 7 days). Presigned media "
        "URLs are valid for at most 7 days, the S3 limit.",
    )


@dataclass(frozen=True)
class DataSettings:
    directory: Path = setting(
        "FERRY_DATA_DIR",
        Path("data"),
        "Directory for local state: the SQLite ledger and temporary downloads.",
    )
