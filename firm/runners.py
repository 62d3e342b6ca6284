"""What executes an analysis run inside a job: the desk (graph/runner.py) by default.

A job hands the runner the run's stored parameters; the runner yields `graph.events` models
and, just before `run_finished`, a `RunRowUpdate` (it never writes the final row itself: the
recorder commits it with the terminal event). Tests may install another runner on the
worker's `JobRuntime` — the queue, recorder and relays around it are the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Engine

from core.settings import Settings


class AnalysisParams(BaseModel):
    """An analysis run's parameters as stored on its row (validated by the API before)."""

    symbol: str
    interval: str = "1h"
    portfolio_id: int | None = None
    execute: bool = False
    as_of: datetime | None = None
    blind: bool = False


class AnalysisRunner(Protocol):
    def start(self, run_id: str, request: Any) -> AsyncIterator[Any]:
        """Events of a new run (`request` has symbol, interval, portfolio_id, execute, as_of,
        blind)."""
        ...

    def resume(self, run_id: str, *, approved: bool | None, note: str) -> AsyncIterator[Any]:
        """Events of a paused run resumed with the human's answer, or (approved=None) of a
        run whose worker died, continued from its last checkpoint."""
        ...


class GraphAnalysisRunner:
    """Runs the desk through `graph.runner` with the worker's engine, settings, checkpointer."""

    def __init__(self, engine: Engine, settings: Settings, checkpointer: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.checkpointer = checkpointer

    def start(self, run_id: str, request: Any) -> AsyncIterator[Any]:
        from graph.runner import run_analysis

        return run_analysis(  # type: ignore[no-any-return]
            request.symbol,
            request.interval,
            run_id=run_id,
            portfolio_id=request.portfolio_id,
            execute=request.execute,
            as_of=request.as_of,
            blind=request.blind,
            engine=self.engine,
            settings=self.settings,
            checkpointer=self.checkpointer,
            finish_run=False,
        )

    def resume(self, run_id: str, *, approved: bool | None, note: str) -> AsyncIterator[Any]:
        from graph.runner import resume_run

        return resume_run(  # type: ignore[no-any-return]
            run_id,
            approved=approved,
            note=note,
            engine=self.engine,
            settings=self.settings,
            checkpointer=self.checkpointer,
            finish_run=False,
        )
