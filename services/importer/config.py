"""Settings of the importer service, read once from FERRY_* variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.shared.config import (
    ConfigError,
    DataSettings,
    LogSettings,
    NatsSettings,
    PeerSettings,
    RetentionSettings,
    S3Settings,
    UrlPolicy,
    group,
    setting,
)
from services.shared.lifecycle import ShutdownSettings
from services.shared.metrics import MetricsSettings


@dataclass(frozen=True)
class ImporterSettings:
    host: str = setting(
        "FERRY_IMPORTER_HOST", "127.0.0.1", "Address the importer's gRPC server binds."
    )
    port: int = setting(
        "FERRY_IMPORTER_GRPC_PORT", 50061, "Port of the importer's gRPC server; 0 picks a free one."
    )
    concurrency: int = setting(
        "FERRY_IMPORTER_CONCURRENCY", 2, "Downloads one importer process runs at the same time."
    )
    tmp_dir: str = setting(
        "FERRY_IMPORTER_TMP_DIR",
        "",
        "Directory for downloads in progress; empty means <FERRY_DATA_DIR>/importer-tmp. It is "
        "emptied at start-up, so give every importer process its own.",
    )
    ack_wait_seconds: float = setting(
        "FERRY_IMPORTER_ACK_WAIT_SECONDS",
        30.0,
        "Seconds without a heartbeat after which JetStream hands a job to another worker.",
    )
    heartbeat_seconds: float = setting(
        "FERRY_IMPORTER_HEARTBEAT_SECONDS",
        5.0,
        "Seconds between the worker's in-progress heartbeats; at most half the ack wait.",
    )
    max_deliver: int = setting(
        "FERRY_IMPORTER_MAX_DELIVER",
        5,
        "Deliveries of one job before a transient failure (S3, ledger or NATS down) fails it.",
    )
    timeout_seconds: int = setting(
        "FERRY_IMPORT_TIMEOUT_SECONDS", 3600, "Seconds one download may take before it is stopped."
    )
    stall_seconds: float = setting(
        "FERRY_IMPORT_STALL_SECONDS",
        60.0,
        "Seconds a download may go without receiving a byte before it fails.",
    )
    max_duration_seconds: int = setting(
        "FERRY_IMPORT_MAX_DURATION_SECONDS",
        21600,
        "Longest media an import accepts, in seconds (default 6 hours); longer media fails "
        "before its download starts when the source announces the duration.",
    )
    tmp_max_bytes: int = setting(
        "FERRY_IMPORTER_TMP_MAX_BYTES",
        20_000_000_000,
        "Bytes of temporary disk one importer process may use. Each job reserves twice its "
        "maximum file size (merging needs room for the parts and the result), capped at "
        "this value, and waits while the reservations would exceed it. The default of "
        "20 GB lets two jobs at the default 4 GB file limit run together.",
    )
    janitor_interval_seconds: float = setting(
        "FERRY_JANITOR_INTERVAL_SECONDS",
        300.0,
        "Seconds between two sweeps of the janitor, which deletes expired media, orphaned "
        "objects and abandoned multipart uploads.",
    )
    hold_credits: int = setting(
        "FERRY_IMPORT_HOLD_CREDITS",
        100,
        "Credits held when an import starts, before its size is known: about 100 MB, ten "
        "minutes of 720p video. POST /import fails with 402 when the balance is smaller. "
        "The worker resizes the hold once yt-dlp reports the size.",
    )
    metadata_wait_seconds: float = setting(
        "FERRY_METADATA_WAIT_SECONDS",
        5.0,
        "Seconds GET and POST /metadata wait for the extraction before answering with the job "
        "id to poll; capped at FERRY_GRPC_TIMEOUT_SECONDS minus 1 s, the gateway's deadline.",
    )
    metadata_timeout_seconds: float = setting(
        "FERRY_METADATA_TIMEOUT_SECONDS", 60.0, "Seconds one metadata extraction may take."
    )
    metadata_concurrency: int = setting(
        "FERRY_METADATA_CONCURRENCY",
        4,
        "Metadata extractions one importer process runs at the same time; more wait queued.",
    )
    log: LogSettings = group(LogSettings)
    metrics: MetricsSettings = group(MetricsSettings)
    shutdown: ShutdownSettings = group(ShutdownSettings)
    nats: NatsSettings = group(NatsSettings)
    s3: S3Settings = group(S3Settings)
    peers: PeerSettings = group(PeerSettings)
    urls: UrlPolicy = group(UrlPolicy)
    retention: RetentionSettings = group(RetentionSettings)
    data: DataSettings = group(DataSettings)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(
                f"FERRY_IMPORTER_CONCURRENCY={self.concurrency} is too small; set it to 1 or more"
            )
        if self.hold_credits < 1:
            raise ConfigError(
                f"FERRY_IMPORT_HOLD_CREDITS={self.hold_credits} is too small; set it to 1 or more"
            )
        if self.max_deliver < 1:
            raise ConfigError(
                f"FERRY_IMPORTER_MAX_DELIVER={self.max_deliver} is too small; set it to 1 or more"
            )
        if self.metadata_concurrency < 1:
            raise ConfigError(
                f"FERRY_METADATA_CONCURRENCY={self.metadata_concurrency} is too small; "
                "set it to 1 or more"
            )
        if self.metadata_wait_seconds < 0:
            raise ConfigError(
                f"FERRY_METADATA_WAIT_SECONDS={self.metadata_wait_seconds} is negative; "
                "set it to 0 (always answer with a job id) or more"
            )
        for name, value in (
            ("FERRY_IMPORT_STALL_SECONDS", self.stall_seconds),
            ("FERRY_IMPORT_MAX_DURATION_SECONDS", self.max_duration_seconds),
            ("FERRY_IMPORTER_TMP_MAX_BYTES", self.tmp_max_bytes),
            ("FERRY_JANITOR_INTERVAL_SECONDS", self.janitor_interval_seconds),
        ):
            if value <= 0:
                raise ConfigError(f"{name}={value} is too small; set it above 0")
        # A heartbeat must reach JetStream well before the ack wait ends, or a running job
        # is handed to a second worker.
        if not 0 < self.heartbeat_seconds <= self.ack_wait_seconds / 2:
            raise ConfigError(
                f"FERRY_IMPORTER_HEARTBEAT_SECONDS={self.heartbeat_seconds} must be above 0 and "
                f"at most half of FERRY_IMPORTER_ACK_WAIT_SECONDS={self.ack_wait_seconds}; "
                "lower the heartbeat or raise the ack wait"
            )

    @property
    def temp_dir(self) -> Path:
        """Return the directory for downloads in progress."""
        if self.tmp_dir:
            return Path(self.tmp_dir)
        return self.data.directory / "importer-tmp"
