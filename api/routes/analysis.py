"""Analysis runs: start one (it runs in the background), list, inspect, approve or reject a
paused one, and stream its events over SSE."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, status
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from api.deps import ApiKeyDep, EngineDep, RunManagerDep, RunStartLimitDep, SettingsDep
from api.errors import BudgetExhaustedError, ConflictError, NotFoundError, error_responses
from api.routes.agents import budget_status
from api.routes.market import check_interval, check_symbol
from api.runners import AnalysisRunner, AnalysisStart
from api.runs_store import RunDetail, RunPage, create_run, get_run, list_runs, portfolio_exists
from api.sse import SSE_RESPONSES, event_stream, resume_point

router = APIRouter(prefix="/analysis", tags=["analysis"])

RunId = Annotated[str, Path(min_length=1, max_length=64)]
KIND = "analysis"
RunStatus = Literal[
    "pending", "running", "paused", "completed", "failed", "cancelled", "budget_exceeded"
]


class RunAccepted(BaseModel):
    run_id: str
    status: str
    events_url: str


class ApprovalNote(BaseModel):
    note: str = Field(default="", max_length=2000)


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
    dependencies=[ApiKeyDep, RunStartLimitDep],
    responses=error_responses(401, 404, 422, 429),
)
async def start_analysis(
    body: AnalysisStart,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    manager: RunManagerDep,
) -> RunAccepted:
    start = body.model_copy(
        update={"symbol": check_symbol(body.symbol), "interval": check_interval(body.interval)}
    )
    if start.portfolio_id is not None and not await asyncio.to_thread(
        portfolio_exists, engine, start.portfolio_id
    ):
        raise NotFoundError("portfolio", start.portfolio_id)
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


@router.get("/runs", response_model=RunPage, responses=error_responses(422))
async def list_analysis_runs(
    engine: EngineDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RunPage:
    return await asyncio.to_thread(
        list_runs, engine, KIND, status=status_, limit=limit, offset=offset
    )


async def _existing_run(engine: EngineDep, run_id: str) -> RunDetail:
    run = await asyncio.to_thread(get_run, engine, run_id, KIND)
    if run is None:
        raise NotFoundError("analysis run", run_id)
    return run


@router.get("/runs/{run_id}", response_model=RunDetail, responses=error_responses(404))
async def get_analysis_run(run_id: RunId, engine: EngineDep) -> RunDetail:
    return await _existing_run(engine, run_id)


async def _resume(
    request: Request,
    engine: EngineDep,
    manager: RunManagerDep,
    run_id: RunId,
    *,
    approved: bool,
    note: str,
) -> RunAccepted:
    run = await _existing_run(engine, run_id)
    if run.status != "paused" or manager.is_active(run_id):
        raise ConflictError(f"run {run_id} is {run.status}, not paused awaiting approval")
    runner = _runner(request)
    await manager.start(run_id, KIND, lambda: runner.resume(run_id, approved=approved, note=note))
    return _accepted(run_id, "running")


@router.post(
    "/runs/{run_id}/approve",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422),
)
async def approve_run(
    run_id: RunId,
    request: Request,
    engine: EngineDep,
    manager: RunManagerDep,
    body: ApprovalNote | None = None,
) -> RunAccepted:
    note = body.note if body else ""
    return await _resume(request, engine, manager, run_id, approved=True, note=note)


@router.post(
    "/runs/{run_id}/reject",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422),
)
async def reject_run(
    run_id: RunId,
    request: Request,
    engine: EngineDep,
    manager: RunManagerDep,
    body: ApprovalNote | None = None,
) -> RunAccepted:
    note = body.note if body else ""
    return await _resume(request, engine, manager, run_id, approved=False, note=note)


@router.get("/runs/{run_id}/events", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def analysis_events(
    run_id: RunId,
    engine: EngineDep,
    settings: SettingsDep,
    manager: RunManagerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="resume after this seq")
    ] = None,
) -> EventSourceResponse:
    after_seq = resume_point(last_event_id, after)
    await _existing_run(engine, run_id)
    return event_stream(manager, run_id, after_seq, ping_seconds=settings.sse_ping_seconds)
