"""Drive one trading session: the clock, the engine of record, the lifecycle (pause/stop)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from graph.events import RunEventModel


async def run_session(
    engine: Engine, session_id: str, *, settings: Settings, **options: Any
) -> AsyncIterator[RunEventModel]:
    raise NotImplementedError("sessions.runner: being built")
    yield  # pragma: no cover
