"""The request that starts an analysis run, and the seam to whatever executes it.

Runs execute as jobs (`firm.jobs`); the runner a worker uses is `firm.runners.AnalysisRunner`
(default `GraphAnalysisRunner`, the LangGraph desk). Tests may install another implementation
on `app.state.analysis_runner` before the lifespan starts: the app's embedded worker uses it,
with the same queue, recorder and relays around it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator

from firm.runners import AnalysisRunner, GraphAnalysisRunner

__all__ = ["AnalysisRunner", "AnalysisStart", "GraphAnalysisRunner"]


class AnalysisStart(BaseModel):
    symbol: str = Field(min_length=3, max_length=20, examples=["BTCUSDT"])
    interval: str = Field(default="1h", max_length=4, examples=["1h"])
    portfolio_id: int | None = Field(default=None, ge=1)
    execute: bool = Field(default=False, description="trade the decision on the portfolio")
    as_of: datetime | None = Field(
        default=None,
        description="replay the desk at the bar containing this UTC time (ISO; no offset means "
        "UTC) from stored candles; a replay never trades, so it cannot be combined with execute",
        examples=["2024-04-01T12:00:00Z"],
    )

    @field_validator("as_of")
    @classmethod
    def _as_of_in_the_past(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if value > datetime.now(UTC):
            raise ValueError(f"{value.isoformat()} is in the future; a replay needs a past bar")
        return value
