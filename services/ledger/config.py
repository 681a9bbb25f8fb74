"""Settings of the ledger service, read from FERRY_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from services.shared.config import (
    DataSettings,
    LogSettings,
    NatsSettings,
    RetentionSettings,
    group,
    setting,
)
from services.shared.lifecycle import ShutdownSettings
from services.shared.metrics import MetricsSettings


@dataclass(frozen=True)
class LedgerSettings:
    host: str = setting("FERRY_LEDGER_HOST", "127.0.0.1", "Address the ledger's gRPC server binds.")
    port: int = setting("FERRY_LEDGER_GRPC_PORT", 50062, "Port of the ledger's gRPC server.")
    database_url: str = setting(
        "FERRY_DATABASE_URL",
        "",
        "SQLAlchemy URL of the ledger database, such as "
        "postgresql+psycopg://user:password@host:5432/ferry; empty means SQLite at "
        "<FERRY_DATA_DIR>/ledger.db.",
    )
    migrate_on_start: bool = setting(
        "FERRY_LEDGER_MIGRATE_ON_START",
        True,
        "Upgrade the database schema to the latest revision when the ledger starts.",
    )
    log: LogSettings = group(LogSettings)
    metrics: MetricsSettings = group(MetricsSettings)
    shutdown: ShutdownSettings = group(ShutdownSettings)
    nats: NatsSettings = group(NatsSettings)
    data: DataSettings = group(DataSettings)
    retention: RetentionSettings = group(RetentionSettings)

    def resolved_database_url(self) -> str:
        """Return FERRY_DATABASE_URL, or the SQLite file under the data directory."""
        if self.database_url.strip():
            return self.database_url.strip()
        return f"sqlite:///{self.data.directory / 'ledger.db'}"
