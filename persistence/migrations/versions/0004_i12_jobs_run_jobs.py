"""runs are jobs: the queue job that executes a run

Revision ID: 0004_i12_jobs
Revises: 0003_i11_candles
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_i12_jobs"
down_revision: str | None = "0003_i11_candles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("recoveries", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_runs_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status")
        batch_op.drop_column("recoveries")
        batch_op.drop_column("worker")
        batch_op.drop_column("job_id")
