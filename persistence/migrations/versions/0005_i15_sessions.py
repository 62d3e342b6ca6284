"""trading sessions: one decision row per (session, symbol, bar), one tick per bar

Revision ID: 0005_i15_sessions
Revises: 0004_i12_jobs
Create Date: 2026-12-01 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import persistence.types

revision: str = "0005_i15_sessions"
down_revision: str | None = "0004_i12_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _session() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "session_id",
        sa.String(length=36),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    money = persistence.types.ExactDecimal(28, 10)
    op.create_table(
        "session_bars",
        _id(),
        _session(),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("bar_ms", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("order_request", sa.JSON(), nullable=True),
        sa.Column("action", sa.String(length=4), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("size_pct", sa.Float(), nullable=False),
        sa.Column("stop_loss", sa.Float(), nullable=True),
        sa.Column("take_profit", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("created_at", persistence.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", persistence.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "symbol", "bar_ms", name="uq_session_bars_key"),
    )
    op.create_index("ix_session_bars_status", "session_bars", ["session_id", "status"])
    op.create_table(
        "session_ticks",
        _id(),
        _session(),
        sa.Column("bar_ms", sa.BigInteger(), nullable=False),
        sa.Column("equity", money, nullable=False),
        sa.Column("cash", money, nullable=False),
        sa.Column("exposure_pct", sa.Float(), nullable=False),
        sa.Column("drawdown_pct", sa.Float(), nullable=False),
        sa.Column("positions", sa.JSON(), nullable=False),
        sa.Column("created_at", persistence.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "bar_ms", name="uq_session_ticks_key"),
    )


def downgrade() -> None:
    op.drop_table("session_ticks")
    op.drop_index("ix_session_bars_status", table_name="session_bars")
    op.drop_table("session_bars")
