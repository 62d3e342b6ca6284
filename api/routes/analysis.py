"""Analysis runs: start one (it runs in the background), list, inspect, approve or reject a
paused one, and stream its events over SSE."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import APIRouter, Request, status
from pydantic import BaseModel
from sqlalchemy import Engine

from api.deps import ApiKeyDep, EngineDep, RunManagerDep, SettingsDep, limit_run_starts
from api.errors import (
    ApiError,
    BudgetExhaustedError,
    ConflictError,
    NotFoundError,
    error_responses,
)
from api.routes.agents import budget_status
from api.routes.run_routes import RunId, add_run_read_routes, existing_run
from api.runners import AnalysisRunner, AnalysisStart
from api.runs_store import RunDetail, create_run, portfolio_exists
from core.bounds import MIN_WARMUP_BARS, Text
from core.settings import DataSourceMode
from tools.candle_store import list_series
from tools.intervals import interval_ms

router = APIRouter(prefix="/analysis", tags=["analysis"])

KIND = "analysis"
LABEL = "analysis run"


class RunAccepted(BaseModel):
    run_id: str
    status: str
    events_url: str


class ApprovalNote(BaseModel):
    note: Text = ""


def _runner(request: Request) -> AnalysisRunner:
    runner: AnalysisRunner = request.app.state.analysis_runner
    return runner


def _accepted(run_id: RunId, status_: str) -> RunAccepted:
    return RunAccepted(
        run_id=run_id, status=status_, events_url=f"/api/analysis/runs/{run_id}/events"
    )


@router.post(
    "/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 422, 429),
)
async def start_analysis(
    body: AnalysisStart,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    manager: RunManagerDep,
) -> RunAccepted:
    limit_run_starts(request)
    start = body
    if start.portfolio_id is not None and not await asyncio.to_thread(
        portfolio_exists, engine, start.portfolio_id
    ):
        raise NotFoundError("portfolio", start.portfolio_id)
    if start.as_of is not None and settings.data_source is not DataSourceMode.synthetic:
        missing = await asyncio.to_thread(replay_gap, engine, start)
        if missing is not None:
            raise NoStoredCandlesError(missing)
    budget = await asyncio.to_thread(budget_status, engine, settings)
    if budget.exceeded:
        raise BudgetExhaustedError(f"budget exhausted: {budget.reason}")
    run_id = str(uuid.uuid4())
    await asyncio.to_thread(
        create_run,
        engine,
        run_id=run_id,
        kind=KIND,
        symbol=start.symbol,
        interval=start.interval,
        portfolio_id=start.portfolio_id,
        params=start.model_dump(mode="json"),
    )
    runner = _runner(request)
    await manager.start(run_id, KIND, lambda: runner.start(run_id, start))
    return _accepted(run_id, "pending")


class NoStoredCandlesError(ApiError):
    status_code = 404


def replay_gap(engine: Engine, start: AnalysisStart) -> str | None:
    """Why the store cannot serve a replay at `as_of` (None: it holds the bar and the
    indicators' warm-up before it)."""
    assert start.as_of is not None
    wanted = (start.symbol, start.interval)
    series = next((s for s in list_series(engine) if (s.symbol, s.interval) == wanted), None)
    step = timedelta(milliseconds=interval_ms(start.interval))
    head = f"as_of: no stored {start.symbol} {start.interval} candles for a replay at "
    head += start.as_of.isoformat()
    if series is None:
        return f"{head} (none stored; import or fetch them first)"
    held = f"stored {series.first.isoformat()} → {series.last.isoformat()}"
    if series.first + MIN_WARMUP_BARS * step > start.as_of:
        return f"{head}: it needs {MIN_WARMUP_BARS} bars before it ({held})"
    if series.last + step < start.as_of:
        return f"{head} ({held})"
    return None


async def _existing_run(engine: EngineDep, run_id: str) -> RunDetail:
    return await existing_run(engine, run_id, KIND, LABEL)


def _answer_route(approved: bool) -> Callable[..., Awaitable[RunAccepted]]:
    """The approve (or reject) route: resume a paused run with the human's answer."""

    async def answer(
        run_id: RunId,
        request: Request,
        engine: EngineDep,
        manager: RunManagerDep,
        body: ApprovalNote | None = None,
    ) -> RunAccepted:
        note = body.note if body else ""
        run = await _existing_run(engine, run_id)
        if run.status != "paused" or manager.is_active(run_id):
            raise ConflictError(f"run {run_id} is {run.status}, not paused awaiting approval")
        runner = _runner(request)
        await manager.start(
            run_id, KIND, lambda: runner.resume(run_id, approved=approved, note=note)
        )
        return _accepted(run_id, "running")

    return answer


for _verb, _approved in (("approve", True), ("reject", False)):
    router.post(
        f"/runs/{{run_id}}/{_verb}",
        name=f"{_verb}_run",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RunAccepted,
        dependencies=[ApiKeyDep],
        responses=error_responses(401, 404, 409, 422),
    )(_answer_route(_approved))


add_run_read_routes(
    router,
    base="/runs",
    kind=KIND,
    label=LABEL,
    names=("list_analysis_runs", "get_analysis_run", "analysis_events"),
)
