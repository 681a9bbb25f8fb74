"""Add account limits, key names, concurrency slots, rate counters and append-only entries.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Importly's published limits; existing accounts get them too.
DEFAULT_LIMITS = {
    "imports_per_hour": 240,
    "concurrent_imports": 2,
    "metadata_per_hour": 1000,
    "concurrent_metadata": 5,
    "status_per_hour": 3600,
}

_APPEND_ONLY_MESSAGE = "entries are append-only; add an adjustment entry instead"


def upgrade() -> None:
    for name, default in DEFAULT_LIMITS.items():
        op.add_column(
            "accounts",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text(str(default))),
        )
    op.add_column(
        "api_keys",
        sa.Column("name", sa.String(100), nullable=False, server_default=sa.text("''")),
    )
    op.create_index("ix_holds_account_id_settled_at", "holds", ["account_id", "settled_at"])
    op.create_table(
        "slots",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("limit_name", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_slots_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
    )
    op.create_index("ix_slots_account_id_limit_name", "slots", ["account_id", "limit_name"])
    op.create_table(
        "rate_counters",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("limit_name", sa.String(16), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_rate_counters_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "limit_name", "window_start", name=op.f("pk_rate_counters")
        ),
    )
    _forbid_entry_changes()


def downgrade() -> None:
    _allow_entry_changes()
    op.drop_table("rate_counters")
    op.drop_index("ix_slots_account_id_limit_name", table_name="slots")
    op.drop_table("slots")
    op.drop_index("ix_holds_account_id_settled_at", table_name="holds")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("name")
    with op.batch_alter_table("accounts") as batch:
        for name in DEFAULT_LIMITS:
            batch.drop_column(name)


def _forbid_entry_changes() -> None:
    """Make the database reject UPDATE and DELETE on entries, whoever runs them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ferry_entries_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries "
            "FOR EACH ROW EXECUTE FUNCTION ferry_entries_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER entries_append_only_{action.lower()} BEFORE {action} ON entries "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
        )


def _allow_entry_changes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER entries_append_only ON entries")
        op.execute("DROP FUNCTION ferry_entries_append_only()")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER entries_append_only_{action}")
