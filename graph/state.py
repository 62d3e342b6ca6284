"""Typed state of the desk, and the slice of it each node reads. The three analysts write
`reports` through a merging reducer so they can run in the same superstep; every agent appends
its named message to `messages` (add_messages) and its call record to `calls`."""

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
    """What a caller (CLI, API, backtest, Studio) passes in; also all that `prepare` reads."""

    symbol: str = "BTCUSDT"
    """Binance spot symbol, e.g. BTCUSDT."""

    interval: str = "1h"
    """Candle interval of the analysis."""

    snapshot: IndicatorSnapshot | None = None
    """Pre-built indicator snapshot (backtests feed bar t here); None → `prepare` loads one."""


# Each node reads its own slice of the state (LangGraph node `input_schema`), never the whole:
# an agent sees only the facts its prompt is built from (the analysts cannot read each other's
# reports, nobody reads the growing `messages`), and LangGraph reads and validates only those
# channels before every step. `DeskState` is the union of the slices plus what nobody reads.


class AnalystInput(InputState):
    """What the three analysts read: the facts `prepare` gathered."""

    sentiment_inputs: SentimentInputs | None = None
    """Fear & Greed and headlines gathered by `prepare` (headlines are untrusted text)."""

    tokenomics_inputs: TokenomicsInputs | None = None
    """Supply, market cap, emission and unlock facts gathered by `prepare`."""


class ResearcherInput(InputState):
    """What the researcher reads: the three analyst reports."""

    reports: dict[str, AnalystReport] = Field(default_factory=dict)
    """Analyst name → report; written concurrently by the three analysts."""


class PortfolioInput(InputState):
    portfolio: PortfolioView | None = None
    """The account as the risk checks saw it at decision time (valued at the snapshot close)."""


class TraderInput(PortfolioInput):
    """What the trader reads: the thesis and the account."""

    thesis: ResearchThesis | None = None
    """The researcher's synthesis."""


class RiskManagerInput(TraderInput):
    """What the LLM risk manager reads: the trader's proposal and what it was based on."""

    proposal: TradeProposal | None = None
    """The trader's order idea."""


class RiskGateInput(RiskManagerInput):
    """What the code risk clamp reads: the proposal and the risk manager's verdict."""

    review: RiskReview | None = None
    """The LLM risk manager's verdict (it can only shrink or reject)."""


class ExecuteInput(PortfolioInput):
    """What `execute` reads: the clamped decision, nothing any model wrote directly."""

    decision: FinalDecision | None = None
    """The decision after the code risk clamp: the only input of `execute`."""


class DeskState(AnalystInput, ResearcherInput, RiskGateInput, ExecuteInput):
    """The whole desk's working memory for one decision."""

    messages: Annotated[list[AnyMessage], add_messages] = Field(default_factory=list)
    """One named AIMessage per agent with its reasoning: the desk as a conversation."""

    reports: Annotated[dict[str, AnalystReport], merge_reports] = Field(default_factory=dict)
    """Analyst name → report; the analysts write it in the same superstep, hence the reducer."""

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
