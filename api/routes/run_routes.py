"""What analysis runs and backtests share: the run id and list parameters, the 404 for a run
of another kind, and the read routes (list, get, SSE events: resume point → existence check
→ relay), registered once per kind."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import WithJsonSchema
from sqlalchemy import Engine
from sse_starlette import EventSourceResponse

from api.deps import EngineDep, RunManagerDep, SettingsDep
from api.errors import NotFoundError, error_responses
from api.runs_store import RunDetail, RunPage, get_run, list_runs
from api.sse import SSE_RESPONSES, event_stream, resume_point
from core.bounds import DB_INT_MAX, RUN_ID_PATTERN

RunId = Annotated[str, Path(min_length=1, max_length=64, pattern=RUN_ID_PATTERN)]
RunStatus = Literal[
    "pending",
    "running",
    "paused",
    "completed",
    "degraded",
    "failed",
    "cancelled",
    "budget_exceeded",
]
# Optional query parameters are documented without `null`: a query string cannot send one.
EVENT_ID_PATTERN = r"^[0-9]{1,9}$"
StatusFilter = Annotated[
    RunStatus | None,
    Query(alias="status"),
    WithJsonSchema({"type": "string", "enum": list(get_args(RunStatus))}),
]
PageLimit = Annotated[int, Query(ge=1, le=200)]
PageOffset = Annotated[int, Query(ge=0, le=1_000_000)]


async def _resume_after(
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", pattern=EVENT_ID_PATTERN),
        WithJsonSchema({"type": "string", "pattern": EVENT_ID_PATTERN}),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=DB_INT_MAX, description="resume after this seq"),
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": DB_INT_MAX}),
    ] = None,
) -> int:
    return resume_point(last_event_id, after)


ResumeAfter = Annotated[int, Depends(_resume_after)]
"""The seq an SSE client resumes after (`Last-Event-ID` header or `after` query)."""


async def existing_run(engine: Engine, run_id: str, kind: str, label: str) -> RunDetail:
    """The run `run_id` of `kind`, or a 404 naming it as `label`."""
    run = await asyncio.to_thread(get_run, engine, run_id, kind)
    if run is None:
        raise NotFoundError(label, run_id)
    return run


def add_run_read_routes(
    router: APIRouter, *, base: str, kind: str, label: str, names: tuple[str, str, str]
) -> None:
    """Register the list, get and SSE events routes of runs of `kind` under `base`;
    `names` = (list, get, events) route names, which are also the OpenAPI operation ids."""
    list_name, get_name, events_name = names

    async def list_kind(
        engine: EngineDep,
        status_: StatusFilter = None,
        limit: PageLimit = 50,
        offset: PageOffset = 0,
    ) -> RunPage:
        return await asyncio.to_thread(
            list_runs, engine, kind, status=status_, limit=limit, offset=offset
        )

    async def get_one(run_id: RunId, engine: EngineDep) -> RunDetail:
        return await existing_run(engine, run_id, kind, label)

    async def events(
        run_id: RunId,
        settings: SettingsDep,
        manager: RunManagerDep,
        after_seq: ResumeAfter,
    ) -> EventSourceResponse:
        return await event_stream(
            manager, run_id, kind, label, after_seq, ping_seconds=settings.sse_ping_seconds
        )

    router.get(base, name=list_name, response_model=RunPage, responses=error_responses(422))(
        list_kind
    )
    router.get(
        f"{base}/{{run_id}}",
        name=get_name,
        response_model=RunDetail,
        responses=error_responses(404),
    )(get_one)
    router.get(
        f"{base}/{{run_id}}/events",
        name=events_name,
        response_class=EventSourceResponse,
        responses=SSE_RESPONSES,
    )(events)
