"""What the models cost since a moment: one SQL aggregate over `agent_logs`, exact on both
backends (Postgres sums NUMERIC; SQLite, which keeps exact decimals as text, sums them as whole
units of the column's scale, so no float ever rounds a cent). A run start checks the day's
budget with it: its cost does not grow with the day's call log. A resumed run's budget starts
from what its earlier attempts spent (`run_id`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, Integer, Numeric, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from persistence.models import USD_COST, AgentLog

COST_SCALE = USD_COST.scale
"""Decimal places of `agent_logs.cost_usd`."""


@dataclass(frozen=True)
class Spend:
    usd: Decimal
    tokens: int


def _sum_cost(dialect: str) -> ColumnElement[object]:
    if dialect == "sqlite":
        # Each stored text holds at most COST_SCALE decimals: text → real → × 10^scale rounds
        # back to that exact whole number, and SQLite sums integers exactly.
        units = func.round(cast(AgentLog.cost_usd, Numeric) * 10**COST_SCALE)
        return func.coalesce(func.sum(cast(units, Integer)), 0)
    return func.coalesce(func.sum(AgentLog.cost_usd), 0)


def spent_since(engine: Engine, since: datetime | None, *, run_id: str | None = None) -> Spend:
    """Cost and tokens (prompt + completion) of every call logged at or after `since` (None:
    ever), of run `run_id` only when given."""
    dialect = engine.dialect.name
    stmt = select(
        _sum_cost(dialect),
        func.coalesce(func.sum(AgentLog.prompt_tokens + AgentLog.completion_tokens), 0),
    )
    if since is not None:
        stmt = stmt.where(AgentLog.created_at >= since)
    if run_id is not None:
        stmt = stmt.where(AgentLog.run_id == run_id)
    with engine.connect() as conn:
        row = conn.execute(stmt).one()
    usd, tokens = Decimal(str(row[0])), int(row[1])
    return Spend(usd.scaleb(-COST_SCALE) if dialect == "sqlite" else usd, tokens)
