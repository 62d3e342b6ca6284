"""Trading sessions (`sessions.service`): start one (a run of kind `session` on the job queue),
list, show, steer (pause/resume/stop), answer its pending approvals, compare it with the
backtest (parity) and stream its events over SSE (the runs' relay)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy import select
from sse_starlette import EventSourceResponse

from api.deps import (
    ApiKeyDep,
    EngineDep,
    RunManagerDep,
    SessionIdPath,
    SettingsDep,
    limit_run_starts,
)
from api.errors import ApiError, ConflictError, UnprocessableError, error_responses
from api.routes.analysis import check_model_config
from api.routes.run_routes import ResumeAfter
from api.run_manager import RunManager
from api.sse import SSE_RESPONSES, event_stream
from core.bounds import MISSING_DATA, SYMBOL_PATTERN, PastTime, Symbol, Text
from sessions.schemas import ParityReport, SessionDecisionRow, SessionSpec, SessionView

router = APIRouter(prefix="/sessions", tags=["sessions"])

KIND = "session"
LIVE_JOB = ("todo", "doing")


class NotFound(ApiError):
    """404 with the service's own words ("no portfolio with id 7")."""

    status_code = 404


@contextmanager
def service_errors() -> Iterator[None]:
    """`sessions.service` errors as HTTP answers: unknown session or portfolio 404, a state
    that does not allow the change (or a taken name) 409, a refused input 422 naming the
    field (a replay without the stored history it needs: `replay_from`, type `missing_data`)."""
    from persistence.portfolios import DuplicatePortfolioError, UnknownPortfolioError
    from sessions.service import SessionStateError
    from tools.errors import FieldValueError

    try:
        yield
    except UnknownPortfolioError as exc:
        raise NotFound(exc.message) from None
    except LookupError as exc:
        raise NotFound(str(exc).removeprefix("session_id: ")) from None
    except SessionStateError as exc:
        raise ConflictError(exc.message) from None
    except FieldValueError as exc:
        if isinstance(exc, DuplicatePortfolioError) or isinstance(
            exc.__cause__, DuplicatePortfolioError
        ):
            raise ConflictError(exc.message) from None
        kind = MISSING_DATA if exc.field == "replay_from" else "value_error"
        raise UnprocessableError(exc.field, exc.message, type_=kind) from None


async def _ensure_job(manager: RunManager, session_id: str) -> None:
    """Enqueue a job for an active session none holds (its job ended while it was paused)."""
    from persistence.models import Run

    def job_id() -> int | None:
        with manager.engine.connect() as conn:
            found: int | None = conn.execute(
                select(Run.job_id).where(Run.id == session_id)
            ).scalar()
        return found

    if await manager.queue.job_status(await asyncio.to_thread(job_id)) not in LIVE_JOB:
        await manager.start(session_id, KIND)


# An optional query parameter is documented without `null`: a query string cannot send one.
SymbolFilter = Annotated[
    Symbol | None,
    Query(description="only this symbol's decisions"),
    WithJsonSchema({"type": "string", "pattern": SYMBOL_PATTERN, "maxLength": 20}),
]


class SessionStarted(BaseModel):
    session_id: str
    status: str
    events_url: str


class ApprovalAnswer(BaseModel):
    """The human's answer to a decision awaiting approval (`SessionView.pending_approvals`)."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    bar_time: PastTime = Field(description="the decision bar's open time (as listed)")
    approved: bool = Field(strict=True)
    note: Text = ""


class SessionEquityPoint(BaseModel):
    at: datetime = Field(description="bar open time; equity marked at that bar's close")
    equity: float


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionStarted,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422, 429),
)
async def start_session(
    spec: SessionSpec,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    manager: RunManagerDep,
) -> SessionStarted:
    """Validate everything known up front (portfolio, stored history for a replay), write the
    session's run row and enqueue its job; 201 before the first bar is processed."""
    from sessions.service import create_session

    limit_run_starts(request)
    if not spec.rules:
        check_model_config(settings)
    with service_errors():
        session_id = await asyncio.to_thread(create_session, engine, spec, settings=settings)
    await manager.start(session_id, KIND)
    return SessionStarted(
        session_id=session_id, status="pending", events_url=f"/api/sessions/{session_id}/events"
    )


@router.get("", response_model=list[SessionView])
async def list_sessions(engine: EngineDep) -> list[SessionView]:
    """Every session, newest first."""
    from sessions.service import list_sessions as listed

    return await asyncio.to_thread(listed, engine)


@router.get("/{session_id}", response_model=SessionView, responses=error_responses(404, 422))
async def get_session(session_id: SessionIdPath, engine: EngineDep) -> SessionView:
    """Status, clock, bars processed, trades, equity, the per-limit maxima, each symbol's
    state and the decisions awaiting approval."""
    from sessions.service import get_session as view

    with service_errors():
        return await asyncio.to_thread(view, engine, session_id)


@router.get(
    "/{session_id}/decisions",
    response_model=list[SessionDecisionRow],
    responses=error_responses(404, 422),
)
async def session_decisions(
    session_id: SessionIdPath,
    engine: EngineDep,
    symbol: SymbolFilter = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SessionDecisionRow]:
    """One row per (symbol, bar) decided, newest first."""
    from sessions.service import decisions

    with service_errors():
        return await asyncio.to_thread(decisions, engine, session_id, symbol, limit)


@router.get(
    "/{session_id}/equity",
    response_model=list[SessionEquityPoint],
    responses=error_responses(404, 422),
)
async def session_equity(session_id: SessionIdPath, engine: EngineDep) -> list[SessionEquityPoint]:
    """The equity curve: one point per processed bar, oldest first."""
    from sessions.service import ticks

    with service_errors():
        points = await asyncio.to_thread(ticks, engine, session_id)
    return [SessionEquityPoint(at=at, equity=equity) for at, equity in points]


@router.post(
    "/{session_id}/pause",
    response_model=SessionView,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422),
)
async def pause_session(session_id: SessionIdPath, engine: EngineDep) -> SessionView:
    """The clock stops after the current bar (409 unless pending/running)."""
    from sessions.service import pause

    with service_errors():
        return await asyncio.to_thread(pause, engine, session_id)


@router.post(
    "/{session_id}/resume",
    response_model=SessionView,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422),
)
async def resume_session(
    session_id: SessionIdPath, engine: EngineDep, manager: RunManagerDep
) -> SessionView:
    """Continue a paused session at its next unprocessed bar (409 unless paused). When no job
    holds it any more (its worker stopped meanwhile) a new one is enqueued at once."""
    from sessions.service import resume

    with service_errors():
        view = await asyncio.to_thread(resume, engine, session_id)
    await _ensure_job(manager, session_id)
    return view


@router.post(
    "/{session_id}/stop",
    response_model=SessionView,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422),
)
async def stop_session(
    session_id: SessionIdPath, engine: EngineDep, manager: RunManagerDep
) -> SessionView:
    """A running session finishes its current bar and ends `stopped`; a pending or paused
    one ends at once (409 when already finished)."""
    from sessions.service import stop

    with service_errors():
        view = await asyncio.to_thread(stop, engine, session_id)
    manager.hub.wake(session_id)
    return view


@router.post(
    "/{session_id}/approvals",
    response_model=SessionDecisionRow,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 409, 422),
)
async def answer_approval(
    session_id: SessionIdPath, body: ApprovalAnswer, engine: EngineDep
) -> SessionDecisionRow:
    """Approve (it fills at the next bar's open) or reject a decision awaiting approval;
    404 for no such decision, 409 when it is no longer awaiting approval."""
    from sessions.service import answer_approval as answer

    with service_errors():
        return await asyncio.to_thread(
            answer, engine, session_id, body.symbol, body.bar_time, body.approved, body.note
        )


@router.get(
    "/{session_id}/parity",
    response_model=ParityReport,
    responses=error_responses(404, 409, 422),
)
async def session_parity(session_id: SessionIdPath, engine: EngineDep) -> ParityReport:
    """Run the backtest of the session's symbols, bars, costs and model and name every
    difference in decisions, fills and equity."""
    from sessions.parity import parity_report

    with service_errors():
        return await asyncio.to_thread(parity_report, engine, session_id)


@router.get("/{session_id}/events", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def session_events(
    session_id: SessionIdPath,
    settings: SettingsDep,
    manager: RunManagerDep,
    after_seq: ResumeAfter,
) -> EventSourceResponse:
    """The session's events (bar ticks, decisions, fills, agents' tokens per symbol, state
    changes) as SSE; `Last-Event-ID` resumes. Ends after `run_finished`."""
    return await event_stream(
        manager,
        session_id,
        KIND,
        "trading session",
        after_seq,
        ping_seconds=settings.sse_ping_seconds,
    )
