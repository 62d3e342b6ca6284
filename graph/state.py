"""Typed state of the desk. Fields are filled left to right as the graph runs; the three
analysts write `reports` through a merging reducer so they can run in the same superstep."""

from __future__ import annotations

import operator
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field

from graph.context import PortfolioView
from graph.schemas import (
    AnalystReport,
    CallRecord,
    ExecutionResult,
    FinalDecision,
    ResearchThesis,
    RiskReview,
    TradeProposal,
)
from tools.sentiment import SentimentInputs
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import TokenomicsInputs


def merge_reports(
    left: dict[str, AnalystReport], right: dict[str, AnalystReport]
) -> dict[str, AnalystReport]:
    """Parallel analysts each add their own key; a later write for the same key wins."""
    return {**left, **right}


class InputState(BaseModel):
    """What a caller (CLI, API, backtest, Studio) passes in."""

    symbol: str = "BTCUSDT"
    """Binance spot symbol, e.g. BTCUSDT."""

    interval: str = "1h"
    """Candle interval of the analysis."""

    snapshot: IndicatorSnapshot | None = None
    """Pre-built indicator snapshot (backtests feed bar t here); None → `prepare` loads one."""


class DeskState(InputState):
    """The whole desk's working memory for one decision."""

    messages: Annotated[list[AnyMessage], add_messages] = Field(default_factory=list)
    """One named AIMessage per agent with its reasoning: the desk as a conversation."""

    sentiment_inputs: SentimentInputs | None = None
    """Fear & Greed and headlines gathered by `prepare` (headlines are untrusted text)."""

    tokenomics_inputs: TokenomicsInputs | None = None
    """Supply, market cap, emission and unlock facts gathered by `prepare`."""

    portfolio: PortfolioView | None = None
    """The account as the risk checks saw it at decision time (valued at the snapshot close)."""

    reports: Annotated[dict[str, AnalystReport], merge_reports] = Field(default_factory=dict)
    """Analyst name → report; written concurrently by the three analysts."""

    thesis: ResearchThesis | None = None
    """The researcher's synthesis."""

    proposal: TradeProposal | None = None
    """The trader's order idea."""

    review: RiskReview | None = None
    """The LLM risk manager's verdict (it can only shrink or reject)."""

    decision: FinalDecision | None = None
    """The decision after the code risk clamp: the only input of `execute`."""

    execution: ExecutionResult | None = None
    """What `execute` did with the decision."""

    calls: Annotated[list[CallRecord], operator.add] = Field(default_factory=list)
    """Every agent call's model, tokens, cost, latency and fallback flag."""


class OutputState(BaseModel):
    """What a finished run hands back."""

    symbol: str
    interval: str
    snapshot: IndicatorSnapshot | None = None
    reports: dict[str, AnalystReport] = Field(default_factory=dict)
    thesis: ResearchThesis | None = None
    proposal: TradeProposal | None = None
    review: RiskReview | None = None
    decision: FinalDecision | None = None
    execution: ExecutionResult | None = None
    calls: list[CallRecord] = Field(default_factory=list)
    messages: list[AnyMessage] = Field(default_factory=list)
