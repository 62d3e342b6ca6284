"""The seam between the API and whatever executes a run.

Routes talk to `AnalysisRunner`; the app's default is `GraphAnalysisRunner` (graph/runner.py,
the LangGraph desk with the rules engine offline). Tests may install another implementation
on `app.state.analysis_runner` — the event pipeline around it is the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from core.settings import Settings


class AnalysisStart(BaseModel):
    symbol: str = Field(min_length=3, max_length=20, examples=["BTCUSDT"])
    interval: str = Field(default="1h", max_length=4, examples=["1h"])
    portfolio_id: int | None = Field(default=None, ge=1)
    execute: bool = Field(default=False, description="trade the decision on the portfolio")


class AnalysisRunner(Protocol):
    def start(self, run_id: str, request: AnalysisStart) -> AsyncIterator[Any]:
        """Events of a new run (the runs row exists, status pending)."""
        ...

    def resume(self, run_id: str, *, approved: bool, note: str) -> AsyncIterator[Any]:
        """Events of a paused run resumed with the human's answer."""
        ...


class GraphAnalysisRunner:
    """Runs the desk through `graph.runner` with the app's engine, settings and checkpointer."""

    def __init__(self, engine: Engine, settings: Settings, checkpointer: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.checkpointer = checkpointer

    def start(self, run_id: str, request: AnalysisStart) -> AsyncIterator[Any]:
        from graph.runner import run_analysis

        return run_analysis(  # type: ignore[no-any-return]
            request.symbol,
            request.interval,
            run_id=run_id,
            portfolio_id=request.portfolio_id,
            execute=request.execute,
            engine=self.engine,
            settings=self.settings,
            checkpointer=self.checkpointer,
        )

    def resume(self, run_id: str, *, approved: bool, note: str) -> AsyncIterator[Any]:
        from graph.runner import resume_run

        return resume_run(  # type: ignore[no-any-return]
            run_id,
            approved=approved,
            note=note,
            engine=self.engine,
            settings=self.settings,
            checkpointer=self.checkpointer,
        )
