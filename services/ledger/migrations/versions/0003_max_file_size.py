"""Add the per-account maximum file size of an import.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 4 GB in megabytes of 10^6 bytes; existing accounts get it too.
DEFAULT_MAX_FILE_MEGABYTES = 4000


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column(
            "max_file_megabytes",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text(str(DEFAULT_MAX_FILE_MEGABYTES)),
        ),
    )


def downgrade() -> None:
    op.drop_column("accounts", "max_file_megabytes")
