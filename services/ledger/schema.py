"""The ledger's tables, as SQLAlchemy Core metadata; the migrations create the same schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    text,
)

# Stable constraint names, so later migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HOLD_STATUSES = ("held", "captured", "released")
# Importly's published limits, the defaults of every new account.
DEFAULT_LIMITS = {
    "imports_per_hour": 240,
    "concurrent_imports": 2,
    "metadata_per_hour": 1000,
    "concurrent_metadata": 5,
    "status_per_hour": 3600,
    # 4 GB, in megabytes of 10^6 bytes, as credits count them.
    "max_file_megabytes": 4000,
}
ENTRY_KINDS = ("grant", "hold", "capture", "release", "adjustment")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # Spendable credits; credits reserved by running imports are in `held`.
    Column("balance", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    *(
        Column(name, BigInteger, nullable=False, server_default=text(str(default)))
        for name, default in DEFAULT_LIMITS.items()
    ),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    CheckConstraint("held >= 0", name="held_not_negative"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False, index=True),
    # SHA-256 of the key, hex encoded; the key itself is never stored.
    Column("key_hash", String(64), nullable=False, unique=True),
    # The first 8 characters of the key, to tell keys apart in listings.
    Column("prefix", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # A label for people, such as "ci"; may be empty.
    Column("name", String(100), nullable=False, server_default=text("''")),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("secret", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

holds = Table(
    "holds",
    metadata,
    Column("import_id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False, index=True),
    # Credits reserved; after capture or release, what was reserved before.
    Column("credits", BigInteger, nullable=False),
    Column("captured", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("credits >= 0", name="credits_not_negative"),
    CheckConstraint("captured >= 0 AND captured <= credits", name="captured_within_credits"),
    CheckConstraint(f"status IN {HOLD_STATUSES!r}", name="status_known"),
    Index("ix_holds_account_id_settled_at", "account_id", "settled_at"),
)

# Append-only: the sum of an account's amounts equals its balance.
entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    # Signed change of the spendable balance.
    Column("amount", BigInteger, nullable=False),
    Column("import_id", String(64), nullable=True),
    Column("reason", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"kind IN {ENTRY_KINDS!r}", name="kind_known"),
    Index("ix_entries_account_id_id", "account_id", "id"),
    Index("ix_entries_import_id", "import_id"),
)

# Concurrency slots: one row per running import (id = import id) or in-flight metadata
# request (id = request id). A slot whose lease has ended no longer counts.
slots = Table(
    "slots",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    # "imports" or "metadata".
    Column("limit_name", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_slots_account_id_limit_name", "account_id", "limit_name"),
)

# Requests counted per account, rate limit and fixed window (unix seconds of its start).
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("limit_name", String(16), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "limit_name", "window_start"),
)
