"""Dependencies as `Annotated` aliases: what a route needs is in its signature.

Every dependency that does no I/O is `async def`: FastAPI runs a plain `def` dependency in
its thread pool, a thread hop per dependency per request (five on an SSE attach, which made
50 concurrent attaches queue behind one another)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from sqlalchemy import Engine

from api.run_manager import RunManager
from api.security import TokenBucketLimiter, check_api_key
from core.bounds import RUN_ID_PATTERN
from core.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_run_manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.run_manager
    return manager


async def get_checkpointer(request: Request) -> Any:
    return request.app.state.checkpointer


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_db_engine)]
RunManagerDep = Annotated[RunManager, Depends(get_run_manager)]
CheckpointerDep = Annotated[Any, Depends(get_checkpointer)]
SessionIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=RUN_ID_PATTERN, description="session id")
]


async def require_api_key(
    settings: SettingsDep,
    x_api_key: Annotated[
        str | None, Header(description="required when the server sets one")
    ] = None,
) -> None:
    check_api_key(settings, x_api_key)


def limit_run_starts(request: Request) -> None:
    """Take a run-start token (429 when none is left). Called first thing in a route body, so
    a request that fails validation (422) never spends one."""
    limiter: TokenBucketLimiter = request.app.state.run_start_limiter
    limiter.check(request)


ApiKeyDep = Depends(require_api_key)
"""Attach to mutating routes: `dependencies=[ApiKeyDep]`."""
