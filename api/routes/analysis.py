"""Analysis runs: start one (it runs in the background), list, inspect, approve or reject a
paused one, and stream its events over SSE."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, status
from pydantic import BaseModel
from sqlalchemy import Engine

from api.deps import ApiKeyDep, EngineDep, RunManagerDep, SettingsDep, limit_run_starts
from api.errors import (
    BudgetExhaustedError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
    error_responses,
)
from api.routes.agents import budget_status
from api.routes.run_routes import RunId, add_run_read_routes, existing_run
from api.runners import AnalysisStart
from api.runs_store import RunDetail, create_run, portfolio_exists
from core.bounds import MIN_WARMUP_BARS, Text
from core.settings import DataSourceMode, Settings

router = APIRouter(prefix="/analysis", tags=["analysis"])

KIND = "analysis"
LABEL = "analysis run"


class RunAccepted(BaseModel):
    run_id: str
    status: str
    events_url: str


class ApprovalNote(BaseModel):
    note: Text = ""


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
    check_model_config(settings)
    start = body
    if start.portfolio_id is not None and not await asyncio.to_thread(
        portfolio_exists, engine, start.portfolio_id
    ):
        raise NotFoundError("portfolio", start.portfolio_id)
    if start.as_of is not None and settings.data_source is not DataSourceMode.synthetic:
        missing = await asyncio.to_thread(replay_gap, engine, settings, start)
        if missing is not None:
            raise UnprocessableError("as_of", f"cannot replay: {missing}")
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
    await manager.start(run_id, KIND)
    return _accepted(run_id, "pending")


def replay_gap(engine: Engine, settings: Settings, start: AnalysisStart) -> str | None:
    """What a replay would miss (None: the store, natively or resampled, holds the decision
    bar and the warm-up before it) — checked with the same source chain the run will use."""
    from graph.context import decision_time
    from persistence.candles import SqlCandleStore
    from tools.market_data import MissingDataError, load_candles

    assert start.as_of is not None
    bar_open, bar_close = decision_time(start.as_of, start.interval)
    read_only = settings.model_copy(update={"data_source": DataSourceMode.store})
    wanted = f"{start.symbol} {start.interval} history up to {bar_open:%Y-%m-%d %H:%M} UTC"
    try:
        series = load_candles(
            start.symbol,
            start.interval,
            end=bar_close,
            limit=MIN_WARMUP_BARS,
            store=SqlCandleStore(engine),
            settings=read_only,
        )
    except MissingDataError:
        return f"no stored {wanted}"
    frame = series.frame
    if len(frame) < MIN_WARMUP_BARS or frame.index[-1] != bar_open:
        return f"not enough stored {wanted} ({MIN_WARMUP_BARS} bars needed before it)"
    return None


def check_model_config(settings: Settings) -> None:
    """A model setup that cannot work (missing price, key, base URL) → 422 naming the setting,
    before anything is written."""
    from graph.context import client_from_settings
    from graph.models import ModelConfigError

    try:
        client_from_settings(settings)
    except ModelConfigError as exc:
        raise UnprocessableError(exc.field, exc.message) from None


async def _existing_run(engine: EngineDep, run_id: str) -> RunDetail:
    return await existing_run(engine, run_id, KIND, LABEL)


def _answer_route(approved: bool) -> Callable[..., Awaitable[RunAccepted]]:
    """The approve (or reject) route: resume a paused run with the human's answer."""

    async def answer(
        run_id: RunId,
        engine: EngineDep,
        manager: RunManagerDep,
        body: ApprovalNote | None = None,
    ) -> RunAccepted:
        note = body.note if body else ""
        run = await _existing_run(engine, run_id)
        if not await manager.answer(run_id, approved=approved, note=note):
            raise ConflictError(f"run {run_id} is {run.status}, not paused awaiting approval")
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


@router.post(
    "/runs/{run_id}/cancel",
    name="cancel_analysis_run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409),
)
async def cancel_analysis(run_id: RunId, engine: EngineDep, manager: RunManagerDep) -> RunAccepted:
    """Stop a pending, running or paused run on whichever worker runs it (within a second)."""
    run = await _existing_run(engine, run_id)
    if not await manager.cancel(run_id):
        raise ConflictError(f"run {run_id} is {run.status}; only pending/running/paused cancel")
    return _accepted(run_id, "cancelled")


add_run_read_routes(
    router,
    base="/runs",
    kind=KIND,
    label=LABEL,
    names=("list_analysis_runs", "get_analysis_run", "analysis_events"),
)
