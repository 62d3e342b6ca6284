"""The request that starts an analysis run, and the seam to whatever executes it.

Runs execute as jobs (`firm.jobs`); the runner a worker uses is `firm.runners.AnalysisRunner`
(default `GraphAnalysisRunner`, the LangGraph desk). Tests may install another implementation
on `app.state.analysis_runner` before the lifespan starts: the app's embedded worker uses it,
with the same queue, recorder and relays around it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from core.bounds import BodyId, Interval, PastTime, Symbol, cross_field
from firm.runners import AnalysisRunner, GraphAnalysisRunner

__all__ = ["AnalysisRunner", "AnalysisStart", "GraphAnalysisRunner"]


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
    blind: bool = Field(
        default=False,
        strict=True,
        description="the desk sees an anonymous ticker, rebased prices and relative times; "
        "a blind run never trades, so it cannot be combined with execute",
    )

    @model_validator(mode="after")
    def _execute_rules(self) -> AnalysisStart:
        if self.execute and self.as_of is not None:
            raise cross_field("as_of", "a replay of a past bar cannot execute a trade")
        if self.execute and self.blind:
            raise cross_field("blind", "a blind run sees rebased prices and cannot execute")
        if self.execute and self.portfolio_id is None:
            raise cross_field("portfolio_id", "required to execute a decision")
        return self
