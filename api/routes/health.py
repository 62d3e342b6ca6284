"""Liveness (`/health`: the process answers) and readiness (`/ready`: database and
checkpointer answer, schema at head)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text

from api.deps import CheckpointerDep, EngineDep, SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class ReadinessCheck(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: ReadinessCheck
    checkpointer: ReadinessCheck
    data_source: str
    llm_provider: str


@router.get("/health", response_model=Health)
async def health() -> Health:
    from api.main import API_VERSION

    return Health(version=API_VERSION)


def _check_database(engine: Engine) -> ReadinessCheck:
    from alembic.script import ScriptDirectory

    from persistence.db import alembic_config

    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    if current != head:
        return ReadinessCheck(ok=False, detail=f"schema at {current}, expected {head}")
    return ReadinessCheck(ok=True, detail=f"{engine.dialect.name}, schema at {head}")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency is not ready"}},
)
async def ready(
    engine: EngineDep, checkpointer: CheckpointerDep, settings: SettingsDep
) -> JSONResponse:
    try:
        database = await asyncio.to_thread(_check_database, engine)
    except Exception as exc:  # readiness reports the failure instead of raising it
        database = ReadinessCheck(ok=False, detail=f"database unreachable: {type(exc).__name__}")
    try:
        # Any read proves the saver's connection works; this thread never exists.
        probe = {"configurable": {"thread_id": "__readiness_probe__"}}
        await asyncio.wait_for(checkpointer.aget_tuple(probe), timeout=5)
        checkpoint = ReadinessCheck(ok=True, detail=type(checkpointer).__name__)
    except Exception as exc:
        checkpoint = ReadinessCheck(
            ok=False, detail=f"checkpointer unavailable: {type(exc).__name__}"
        )
    is_ready = database.ok and checkpoint.ok
    body = Readiness(
        status="ready" if is_ready else "not_ready",
        database=database,
        checkpointer=checkpoint,
        data_source=settings.data_source.value,
        llm_provider=settings.llm_provider.value,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if is_ready else 503)
