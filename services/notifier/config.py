"""Settings of the notifier service."""

from __future__ import annotations

from dataclasses import dataclass

from services.shared.config import (
    LogSettings,
    NatsSettings,
    PeerSettings,
    RetentionSettings,
    UrlPolicy,
    group,
    setting,
)
from services.shared.lifecycle import ShutdownSettings
from services.shared.metrics import MetricsSettings


@dataclass(frozen=True)
class NotifierSettings:
    host: str = setting("FERRY_NOTIFIER_HOST", "127.0.0.1", "Address the gRPC server listens on.")
    port: int = setting(
        "FERRY_NOTIFIER_GRPC_PORT", 50063, "gRPC port of the notifier; 0 picks a free port."
    )
    concurrency: int = setting(
        "FERRY_NOTIFIER_CONCURRENCY", 32, "Maximum number of webhook deliveries in flight at once."
    )
    timeout_seconds: float = setting(
        "FERRY_WEBHOOK_TIMEOUT_SECONDS",
        10.0,
        "Time limit for one webhook request, from connecting to reading the response, in seconds.",
    )
    retry_schedule: tuple[float, ...] = setting(
        "FERRY_WEBHOOK_RETRY_SCHEDULE",
        (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0),
        "Seconds to wait before each retry of a failed webhook, comma-separated. The first "
        "attempt is made at once, so a delivery makes at most one attempt more than this "
        "list has entries.",
    )
    log_retention_seconds: int | None = setting(
        "FERRY_WEBHOOK_LOG_RETENTION_SECONDS",
        None,
        "How long an import's webhook delivery log (and its event, for redelivery) is kept "
        "after its last attempt, in seconds. Empty means FERRY_RETENTION_SECONDS.",
    )
    log: LogSettings = group(LogSettings)
    metrics: MetricsSettings = group(MetricsSettings)
    shutdown: ShutdownSettings = group(ShutdownSettings)
    nats: NatsSettings = group(NatsSettings)
    peers: PeerSettings = group(PeerSettings)
    url_policy: UrlPolicy = group(UrlPolicy)
    retention: RetentionSettings = group(RetentionSettings)

    @property
    def delivery_log_ttl_seconds(self) -> int:
        """Return how long delivery log entries are kept, in seconds."""
        if self.log_retention_seconds is None:
            return self.retention.seconds
        return self.log_retention_seconds
