"""The seam between the API and whatever executes a run.

Routes talk to `AnalysisRunner`; the app's default is `GraphAnalysisRunner` (graph/runner.py,
the LangGraph desk with the rules engine offline). Tests may install another implementation
on `app.state.analysis_runner` — the event pipeline around it is the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Engine

from core.bounds import BodyId, Interval, PastTime, Symbol, cross_field
from core.settings import Settings


class AnalysisStart(BaseModel):
    """Bounds from `core.bounds`; `execute` needs a `portfolio_id` and excludes `as_of`."""

    symbol: Symbol = Field(examples=["BTCUSDT"])
    interval: Interval = Field(default="1h", examples=["1h"])
    portfolio_id: BodyId | None = None
    execute: bool = Field(
        default=False, strict=True, description="trade the decision on the portfolio"
    )
    as_of: PastTime | None = Field(
        default=None,
        description="replay the desk at the bar containing this UTC time (ISO; no offset means "
        "UTC; 2009-01-03 … now) from stored candles; a replay never trades, so it cannot be "
        "combined with execute",
        examples=["2024-04-01T12:00:00Z"],
    )

    @model_validator(mode="after")
    def _execute_rules(self) -> AnalysisStart:
        if self.execute and self.as_of is not None:
            raise cross_field("as_of", "a replay of a past bar cannot execute a trade")
        if self.execute and self.portfolio_id is None:
            raise cross_field("portfolio_id", "required to execute a decision")
        return self


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
            as_of=request.as_of,
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
