"""Backtests through the agent desk (graph/backtest): estimate the cost, start one (a job on the
run queue, its progress streamed over SSE), inspect, fetch the result, cancel."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field, computed_field
from sqlalchemy import Engine, select

from api.deps import ApiKeyDep, EngineDep, RunManagerDep, SettingsDep, limit_run_starts
from api.errors import (
    BudgetExhaustedError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
    error_responses,
)
from api.routes.agents import budget_status
from api.routes.analysis import check_model_config
from api.routes.run_routes import RunId, add_run_read_routes, existing_run
from api.runs_store import RunDetail
from graph.backtest.estimate import (
    CostEstimate,
    CostLimitError,
    UnknownPriceError,
    estimate_cost,
)
from graph.backtest.runs import create_backtest_run
from graph.backtest.schemas import BacktestParams
from graph.costs import MEMORISATION_PREFIX
from persistence.db import session_scope
from persistence.models import BacktestResult

router = APIRouter(prefix="/backtests", tags=["backtest"])

KIND = "backtest"
LABEL = "backtest"


class CostEstimateOut(CostEstimate):
    @computed_field  # type: ignore[prop-decorator]
    @property
    def within_cap(self) -> bool:
        return self.usd <= self.cap_usd


class BacktestAccepted(BaseModel):
    run_id: str
    status: str
    events_url: str


class BacktestResultOut(BaseModel):
    run_id: str
    partial: bool
    metrics: dict[str, Any]
    baselines: dict[str, Any]
    decision_spread: dict[str, Any]
    equity_curve: list[Any]
    trades: list[Any]
    warnings: list[Any]
    created_at: datetime
    memorisation_note: str | None = Field(
        default=None,
        description="set when the window starts before a desk model's training cutoff",
    )


def _estimate(params: BacktestParams, settings: Any) -> CostEstimateOut:
    try:
        estimate = estimate_cost(params, settings)
    except UnknownPriceError as exc:
        raise UnprocessableError("llm_prices", str(exc)) from None
    return CostEstimateOut(**estimate.model_dump())


async def _served_range(params: BacktestParams, engine: Engine, settings: Any) -> BacktestParams:
    """The range real data serves (clipped / start moved only with `data_notes`); a range it
    does not cover is a 422 naming the missing part, before anything is written."""
    from graph.backtest.data import load_backtest_data

    try:
        data = await asyncio.to_thread(load_backtest_data, params, engine=engine, settings=settings)
    except ValueError as exc:  # CoverageError, MissingDataError, NotEnoughHistoryError, …
        field, _, rest = str(exc).partition(": ")
        if not rest or not field.isidentifier():
            field, rest = "range", str(exc)
        raise UnprocessableError(field, rest) from None
    return data.params


@router.post("/estimate", response_model=CostEstimateOut, responses=error_responses(422))
async def estimate(params: BacktestParams, settings: SettingsDep) -> CostEstimateOut:
    return _estimate(params, settings)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BacktestAccepted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 422, 429),
)
async def start_backtest(
    params: BacktestParams,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    manager: RunManagerDep,
) -> BacktestAccepted:
    limit_run_starts(request)
    _estimate(params, settings)  # unknown model prices → 422 before anything is written
    check_model_config(settings)
    budget = await asyncio.to_thread(budget_status, engine, settings)
    if budget.exceeded:
        raise BudgetExhaustedError(f"budget exhausted: {budget.reason}")
    params = await _served_range(params, engine, settings)
    try:
        run_id = await asyncio.to_thread(create_backtest_run, engine, params, settings=settings)
    except CostLimitError as exc:
        raise BudgetExhaustedError(str(exc)) from None
    await manager.start(run_id, KIND)
    return BacktestAccepted(
        run_id=run_id, status="pending", events_url=f"/api/backtests/{run_id}/events"
    )


async def _existing(engine: Engine, run_id: str) -> RunDetail:
    return await existing_run(engine, run_id, KIND, LABEL)


@router.get("/{run_id}/result", response_model=BacktestResultOut, responses=error_responses(404))
async def backtest_result(run_id: RunId, engine: EngineDep) -> BacktestResultOut:
    await _existing(engine, run_id)

    def load() -> BacktestResultOut | None:
        with session_scope(engine) as session:
            row = session.scalar(select(BacktestResult).where(BacktestResult.run_id == run_id))
            if row is None:
                return None
            out = BacktestResultOut.model_validate(row, from_attributes=True)
            out.memorisation_note = next(
                (w for w in out.warnings if str(w).startswith(MEMORISATION_PREFIX)), None
            )
            return out

    result = await asyncio.to_thread(load)
    if result is None:
        raise NotFoundError("result of backtest", f"{run_id} (not finished yet)")
    return result


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BacktestAccepted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409),
)
async def cancel_backtest(
    run_id: RunId, engine: EngineDep, manager: RunManagerDep
) -> BacktestAccepted:
    run = await _existing(engine, run_id)
    if not await manager.cancel(run_id):
        raise ConflictError(f"backtest {run_id} is {run.status}; only pending/running cancel")
    return BacktestAccepted(
        run_id=run_id, status="cancelled", events_url=f"/api/backtests/{run_id}/events"
    )


add_run_read_routes(
    router,
    base="",
    kind=KIND,
    label=LABEL,
    names=("list_backtests", "get_backtest", "backtest_events"),
)
