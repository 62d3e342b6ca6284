"""What the agents did and what it cost: call logs, usage per day/model/agent, budget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import Engine, case, func, select

from api.deps import EngineDep, SettingsDep
from core.settings import Settings
from persistence.models import AgentLog

router = APIRouter(prefix="/agents", tags=["agents"])


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
    run_id: Annotated[str | None, Query(max_length=36)] = None,
    agent: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
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


def _day_expr(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", AgentLog.created_at), "YYYY-MM-DD")
    return func.substr(AgentLog.created_at, 1, 10)


@router.get("/usage", response_model=Usage)
async def agent_usage(
    engine: EngineDep,
    group_by: Literal["day", "model", "agent"] = "day",
    days: Annotated[int, Query(ge=1, le=366, description="look back this many days")] = 30,
) -> Usage:
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=days - 1
    )

    def load() -> list[UsageRow]:
        key = {
            "day": _day_expr(engine),
            "model": AgentLog.model,
            "agent": AgentLog.agent,
        }[group_by].label("key")
        query = (
            select(
                key,
                func.count(),
                func.coalesce(func.sum(AgentLog.prompt_tokens), 0),
                func.coalesce(func.sum(AgentLog.completion_tokens), 0),
                func.sum(AgentLog.cost_usd),
                func.sum(case((AgentLog.cached.is_(True), 1), else_=0)),
                func.sum(case((AgentLog.ok.is_(False), 1), else_=0)),
            )
            .where(AgentLog.created_at >= since)
            .group_by(key)
            .order_by(key)
        )
        with engine.connect() as conn:
            return [
                UsageRow(
                    key=str(k),
                    calls=calls,
                    prompt_tokens=int(pt),
                    completion_tokens=int(ct),
                    cost_usd=Decimal(str(cost or 0)),
                    cached_calls=int(cached or 0),
                    failed_calls=int(failed or 0),
                )
                for k, calls, pt, ct, cost, cached, failed in conn.execute(query)
            ]

    return Usage(group_by=group_by, since=since, rows=await asyncio.to_thread(load))


def budget_status(engine: Engine, settings: Settings) -> BudgetStatus:
    """Today's (UTC) spend against the daily budget; the same figures the graph's guard uses."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with engine.connect() as conn:
        spent, tokens = conn.execute(
            select(
                func.sum(AgentLog.cost_usd),
                func.coalesce(func.sum(AgentLog.prompt_tokens + AgentLog.completion_tokens), 0),
            ).where(AgentLog.created_at >= midnight)
        ).one()
    spent_usd = Decimal(str(spent or 0))
    reason = None
    if spent_usd >= settings.budget_day_usd:
        reason = f"daily budget spent: {spent_usd} of {settings.budget_day_usd} USD"
    elif int(tokens) >= settings.budget_day_tokens:
        reason = f"daily token budget spent: {int(tokens)} of {settings.budget_day_tokens} tokens"
    return BudgetStatus(
        day=midnight.date().isoformat(),
        spent_usd=spent_usd,
        limit_usd=settings.budget_day_usd,
        spent_tokens=int(tokens),
        limit_tokens=settings.budget_day_tokens,
        exceeded=reason is not None,
        reason=reason,
        run_limit_usd=settings.budget_run_usd,
        run_limit_tokens=settings.budget_run_tokens,
    )


@router.get("/budget", response_model=BudgetStatus)
async def agent_budget(engine: EngineDep, settings: SettingsDep) -> BudgetStatus:
    return await asyncio.to_thread(budget_status, engine, settings)
