"""Settings of the gateway, read from FERRY_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from services.shared.config import LogSettings, PeerSettings, group, setting
from services.shared.lifecycle import ShutdownSettings
from services.shared.metrics import MetricsSettings


@dataclass(frozen=True)
class GatewaySettings:
    host: str = setting("FERRY_GATEWAY_HOST", "127.0.0.1", "Address the HTTP API listens on.")
    port: int = setting(
        "FERRY_GATEWAY_PORT", 8000, "Port the HTTP API listens on; 0 picks a free port."
    )
    log: LogSettings = group(LogSettings)
    peers: PeerSettings = group(PeerSettings)
    metrics: MetricsSettings = group(MetricsSettings)
    shutdown: ShutdownSettings = group(ShutdownSettings)
