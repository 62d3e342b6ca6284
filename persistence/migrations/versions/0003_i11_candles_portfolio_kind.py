"""portfolio kind: the market (real | synthetic) a portfolio's fills come from

Revision ID: 0003_i11_candles
Revises: 0002_i11_pit
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_i11_candles"
down_revision: str | None = "0002_i11_pit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="real")
        )
        batch_op.create_check_constraint("ck_portfolios_kind", "kind IN ('real', 'synthetic')")


def downgrade() -> None:
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.drop_constraint("ck_portfolios_kind", type_="check")
        batch_op.drop_column("kind")
