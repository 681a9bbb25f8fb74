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
    import_slot_seconds: float = setting(
        "FERRY_LEDGER_IMPORT_SLOT_SECONDS",
        7200.0,
        "Lease of a concurrent import slot, renewed by every hold call of the import. A slot "
        "whose import never settles (its importer died on the last delivery) is freed when "
        "the lease ends; keep it above FERRY_IMPORT_TIMEOUT_SECONDS.",
    )
    request_slot_seconds: float = setting(
        "FERRY_LEDGER_REQUEST_SLOT_SECONDS",
        300.0,
        "Lease of a concurrent metadata request slot, freed earlier when the request ends; "
        "the slot of a gateway that died mid-request is freed when the lease ends.",
    )
    webhook_secret_overlap_seconds: int = setting(
        "FERRY_WEBHOOK_SECRET_OVERLAP_SECONDS",
        86400,
        "Seconds the previous webhook secrets keep signing after a rotation (default 1 day), "
        "unless the rotation names another overlap.",
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
