"""What the agents did and what it cost: call logs, usage per day/model/agent, budget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, WithJsonSchema
from sqlalchemy import Engine, func, select

from api.deps import EngineDep, SettingsDep
from core.bounds import RUN_ID_PATTERN
from core.settings import Settings
from persistence.models import AgentLog
from persistence.spend import spent_since

router = APIRouter(prefix="/agents", tags=["agents"])
AGENT_PATTERN = r"^[a-z_]+$"


class AgentLogOut(BaseModel):
    id: int
    run_id: str | None
    agent: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    latency_ms: float
    ok: bool
    cached: bool
    error: str | None
    raw_output: str | None
    created_at: datetime


class AgentLogPage(BaseModel):
    items: list[AgentLogOut]
    total: int


class UsageRow(BaseModel):
    key: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    cached_calls: int
    failed_calls: int


class Usage(BaseModel):
    group_by: Literal["day", "model", "agent"]
    since: datetime
    rows: list[UsageRow]


class BudgetStatus(BaseModel):
    day: str
    spent_usd: Decimal
    limit_usd: Decimal
    spent_tokens: int
    limit_tokens: int
    exceeded: bool
    reason: str | None
    run_limit_usd: Decimal
    run_limit_tokens: int


@router.get("/logs", response_model=AgentLogPage)
async def agent_logs(
    engine: EngineDep,
    run_id: Annotated[
        str | None,
        Query(max_length=64, pattern=RUN_ID_PATTERN),
        WithJsonSchema({"type": "string", "maxLength": 64, "pattern": RUN_ID_PATTERN}),
    ] = None,
    agent: Annotated[
        str | None,
        Query(max_length=32, pattern=AGENT_PATTERN),
        WithJsonSchema({"type": "string", "maxLength": 32, "pattern": AGENT_PATTERN}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AgentLogPage:
    def load() -> AgentLogPage:
        filters = []
        if run_id is not None:
            filters.append(AgentLog.run_id == run_id)
        if agent is not None:
            filters.append(AgentLog.agent == agent)
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(AgentLog).where(*filters))
            rows = conn.execute(
                select(AgentLog.__table__)
                .where(*filters)
                .order_by(AgentLog.created_at.desc(), AgentLog.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return AgentLogPage(
                total=total.scalar_one(),
                items=[AgentLogOut.model_validate(dict(r._mapping)) for r in rows],
            )

    return await asyncio.to_thread(load)


def _aggregate(rows: Any, key_of: Any) -> list[UsageRow]:
    """Sum in Python with Decimal: SQLite stores exact decimals as text, and SQL SUM over
    them would return a float (0.21000000000000002 instead of 0.21)."""
    groups: dict[str, UsageRow] = {}
    for row in rows:
        key = key_of(row)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = UsageRow(
                key=key,
                calls=0,
                prompt_tokens=0,
                completion_tokens=0,
                cost_usd=Decimal(0),
                cached_calls=0,
                failed_calls=0,
            )
        acc.calls += 1
        acc.prompt_tokens += row.prompt_tokens
        acc.completion_tokens += row.completion_tokens
        acc.cost_usd += row.cost_usd
        acc.cached_calls += int(row.cached)
        acc.failed_calls += int(not row.ok)
    return [groups[k] for k in sorted(groups)]


_USAGE_COLUMNS = (
    AgentLog.agent,
    AgentLog.model,
    AgentLog.prompt_tokens,
    AgentLog.completion_tokens,
    AgentLog.cost_usd,
    AgentLog.cached,
    AgentLog.ok,
    AgentLog.created_at,
)


def _since_midnight(days: int) -> datetime:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=days - 1)


@router.get("/usage", response_model=Usage)
async def agent_usage(
    engine: EngineDep,
    group_by: Literal["day", "model", "agent"] = "day",
    days: Annotated[int, Query(ge=1, le=366, description="look back this many UTC days")] = 30,
) -> Usage:
    since = _since_midnight(days)
    key_of = {
        "day": lambda r: r.created_at.date().isoformat(),
        "model": lambda r: r.model,
        "agent": lambda r: r.agent,
    }[group_by]

    def load() -> list[UsageRow]:
        with engine.connect() as conn:
            rows = conn.execute(select(*_USAGE_COLUMNS).where(AgentLog.created_at >= since))
            return _aggregate(rows, key_of)

    return Usage(group_by=group_by, since=since, rows=await asyncio.to_thread(load))


def budget_status(engine: Engine, settings: Settings) -> BudgetStatus:
    """Today's (UTC) spend against the daily budget (one SQL aggregate: every run start
    checks it)."""
    midnight = _since_midnight(1)
    spend = spent_since(engine, midnight)
    spent_usd, tokens = spend.usd, spend.tokens
    reason = None
    if spent_usd >= settings.budget_day_usd:
        reason = f"daily budget spent: {spent_usd} of {settings.budget_day_usd} USD"
    elif tokens >= settings.budget_day_tokens:
        reason = f"daily token budget spent: {tokens} of {settings.budget_day_tokens} tokens"
    return BudgetStatus(
        day=midnight.date().isoformat(),
        spent_usd=spent_usd,
        limit_usd=settings.budget_day_usd,
        spent_tokens=tokens,
        limit_tokens=settings.budget_day_tokens,
        exceeded=reason is not None,
        reason=reason,
        run_limit_usd=settings.budget_run_usd,
        run_limit_tokens=settings.budget_run_tokens,
    )


@router.get("/budget", response_model=BudgetStatus)
async def agent_budget(engine: EngineDep, settings: SettingsDep) -> BudgetStatus:
    return await asyncio.to_thread(budget_status, engine, settings)
