"""Typed state of the desk, and the slice of it each node reads. The three analysts write
`reports` through a merging reducer so they can run in the same superstep; every agent appends
its named message to `messages` (add_messages) and its call record to `calls`.

A thread is a conversation: `intake` reads the new user message (or the structured input),
resets every per-turn field (a turn never sees the last turn's snapshot, reports or calls) and
`report` ends the turn with the desk's answer and the `last_turn` record that follow-up
questions are answered from. `messages` and `last_turn` are the only things a turn inherits."""

from __future__ import annotations

import operator
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import AwareDatetime, BaseModel, Field

from graph.chat_models import ChatRequest, TurnRecord
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

    as_of: AwareDatetime | None = None
    """Replay the bar containing this time from stored history (never executes); None → now."""


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

    turn_id: str | None = None
    """Set by `intake` for every analysis turn: with the thread id, the executor's key."""

    execute: bool | None = None
    """Trade the decision? None → whenever the context has an executor (API/CLI `execute`);
    a chat turn sets it from the request ("analyze and trade ETHUSDT 4h")."""


class DeskInput(InputState):
    """The graph's input: structured fields (API, CLI, backtests) and/or chat `messages`."""

    messages: Annotated[list[AnyMessage], add_messages] = Field(default_factory=list)
    """The conversation; a new user message is the turn's request or question."""

    execute: bool | None = None
    """See `ExecuteInput.execute`."""


class IntakeInput(DeskInput):
    """What `intake` reads: the conversation, the caller's fields and the last turn."""

    last_turn: TurnRecord | None = None
    """The last completed turn: what follow-up questions are answered from."""

    handled_message_id: str | None = None
    """Id of the last user message taken as a request (a failed turn's message is not re-read)."""

    request: ChatRequest | None = None
    """How `intake` understood this turn (analysis request, follow-up question, unclear);
    also what the edge after `intake` routes on."""

    snapshot_loaded: bool = False
    """`prepare` loaded `snapshot` (True) or the caller passed it (False): only the former is
    dropped by the next turn's reset."""


class ReportInput(ExecuteInput):
    """What `report` reads to write the turn's answer (and clear the turn's inputs)."""

    reports: dict[str, AnalystReport] = Field(default_factory=dict)
    thesis: ResearchThesis | None = None
    proposal: TradeProposal | None = None
    review: RiskReview | None = None
    execution: ExecutionResult | None = None
    warnings: list[str] = Field(default_factory=list)
    """Data warnings of this turn (stale, synthetic, resampled), said in the answer."""


class DeskState(AnalystInput, ResearcherInput, RiskGateInput, IntakeInput, ReportInput):
    """The whole desk's working memory: one decision per turn, the conversation across turns."""

    messages: Annotated[list[AnyMessage], add_messages] = Field(default_factory=list)
    """One named AIMessage per agent with its reasoning: the desk as a conversation."""

    reports: Annotated[dict[str, AnalystReport], merge_reports] = Field(default_factory=dict)
    """Analyst name → report; the analysts write it in the same superstep, hence the reducer."""

    execution: ExecutionResult | None = None
    """What `execute` did with the decision."""

    calls: Annotated[list[CallRecord], operator.add] = Field(default_factory=list)
    """Every agent call of this turn: model, tokens, cost, latency, fallback flag (reset per
    turn with `Overwrite`, so records never pile up across turns)."""


class OutputState(BaseModel):
    """What a finished run hands back."""

    symbol: str = "BTCUSDT"
    interval: str = "1h"
    snapshot: IndicatorSnapshot | None = None
    reports: dict[str, AnalystReport] = Field(default_factory=dict)
    thesis: ResearchThesis | None = None
    proposal: TradeProposal | None = None
    review: RiskReview | None = None
    decision: FinalDecision | None = None
    execution: ExecutionResult | None = None
    calls: list[CallRecord] = Field(default_factory=list)
    messages: list[AnyMessage] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    request: ChatRequest | None = None
    last_turn: TurnRecord | None = None
