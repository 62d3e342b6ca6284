"""The `runs` rows the API creates and reads (analysis and backtest runs alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasPath, BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from persistence.db import session_scope
from persistence.models import Portfolio, Run, RunEvent


class RunSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    id: str
    kind: str
    status: str
    symbol: str
    interval: str
    portfolio_id: int | None
    progress: float
    model: str | None
    data_source: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    as_of: datetime | None = Field(default=None, validation_alias=AliasPath("params", "as_of"))
    """Set when the run replayed the desk at a past bar (analysis `as_of`): it never trades."""


class RunDetail(RunSummary):
    params: dict[str, Any]
    result: dict[str, Any] | None
    last_event_seq: int


class RunPage(BaseModel):
    items: list[RunSummary]
    total: int


def create_run(
    engine: Engine,
    *,
    run_id: str,
    kind: str,
    symbol: str,
    interval: str,
    portfolio_id: int | None,
    params: dict[str, Any],
) -> None:
    with session_scope(engine) as session:
        session.add(
            Run(
                id=run_id,
                kind=kind,
                status="pending",
                symbol=symbol,
                interval=interval,
                portfolio_id=portfolio_id,
                params=params,
            )
        )


def portfolio_exists(engine: Engine, portfolio_id: int) -> bool:
    with engine.connect() as conn:
        found = conn.execute(select(Portfolio.id).where(Portfolio.id == portfolio_id)).first()
    return found is not None


def get_run(engine: Engine, run_id: str, kind: str) -> RunDetail | None:
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None or run.kind != kind:
            return None
        seq = session.execute(
            select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)
        ).scalar_one()
        summary = RunSummary.model_validate(run)
        return RunDetail(
            **summary.model_dump(),
            params=run.params or {},
            result=run.result,
            last_event_seq=int(seq or 0),
        )


def list_runs(engine: Engine, kind: str, *, status: str | None, limit: int, offset: int) -> RunPage:
    filters = [Run.kind == kind]
    if status is not None:
        filters.append(Run.status == status)
    with session_scope(engine) as session:
        total = session.execute(select(func.count()).select_from(Run).where(*filters)).scalar_one()
        runs = session.scalars(
            select(Run).where(*filters).order_by(Run.created_at.desc()).limit(limit).offset(offset)
        )
        return RunPage(items=[RunSummary.model_validate(r) for r in runs], total=total)
