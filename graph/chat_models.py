"""What the chat side of the desk keeps: how a user turn was understood (`ChatRequest`) and the
record of the last completed turn that follow-up questions are answered from (`TurnRecord`)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from graph.schemas import (
    AnalystReport,
    ExecutionResult,
    FinalDecision,
    ResearchThesis,
    RiskReview,
    TradeProposal,
)
from tools.snapshot import IndicatorSnapshot

RequestKind = Literal["analyze", "question", "unclear"]


class ChatRequest(BaseModel):
    """One user turn as the desk understood it (parser or the cheap model's extraction)."""

    model_config = ConfigDict(extra="ignore")

    kind: RequestKind = Field(
        description="analyze: run the desk on a pair; question: about the last decision; "
        "unclear: neither"
    )
    symbol: str | None = Field(default=None, description="Binance spot symbol, e.g. ETHUSDT")
    interval: str | None = Field(default=None, description="candle interval, e.g. 1h, 4h, 1d")
    as_of: AwareDatetime | None = Field(
        default=None, description="replay the bar containing this UTC time (ISO 8601)"
    )
    execute: bool = Field(default=False, description="the user asked to trade the decision")
    question: str = Field(default="", description="the follow-up question, verbatim")
    text: str = Field(default="", description="the user's message")


class TurnRecord(BaseModel):
    """A completed turn: the facts and the decision it produced."""

    symbol: str
    interval: str
    snapshot: IndicatorSnapshot | None = None
    reports: dict[str, AnalystReport] = Field(default_factory=dict)
    thesis: ResearchThesis | None = None
    proposal: TradeProposal | None = None
    review: RiskReview | None = None
    decision: FinalDecision | None = None
    execution: ExecutionResult | None = None
    warnings: list[str] = Field(default_factory=list)
