"""headlines: dated news headlines for point-in-time sentiment

Revision ID: 0002_i11_pit
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import persistence.types

revision: str = "0002_i11_pit"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "headlines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("published_at", persistence.types.UTCDateTime(), nullable=False),
        sa.Column("available_at", persistence.types.UTCDateTime(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("currencies", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("imported_at", persistence.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_headlines_available", "headlines", ["available_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_headlines_available", table_name="headlines")
    op.drop_table("headlines")
