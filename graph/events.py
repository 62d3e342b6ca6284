"""The events a run emits, in one place: the CLI renders them, the API persists and streams
them over SSE (the event `type` is the SSE `event:` field, the persisted sequence number its
`id:`), and the web UI consumes them. Add fields freely; never rename.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


def _now() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    run_id: str
    at: datetime = Field(default_factory=_now)


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    kind: Literal["analysis", "backtest", "session"]
    symbol: str
    interval: str
    model_cheap: str
    model_strong: str
    data_source: str | None = Field(
        default=None,
        description="set when known at start (backtests); an analysis learns it in `prepare`: "
        "see the technical analyst's output `source` and the run's `data_source`",
    )
    as_of: datetime | None = None
    """Set for a replay: the desk decides at the close of the bar containing this time, on
    stored history, with the stale-data check relative to that close. Never live trading."""


class NodeStarted(_Event):
    type: Literal["node_started"] = "node_started"
    node: str


class Token(_Event):
    """A piece of an agent's reasoning as it is produced. Analysts' tokens interleave."""

    type: Literal["token"] = "token"
    node: str
    message_id: str
    text: str
    symbol: str | None = None
    """The watchlist symbol the agent is working on (trading sessions decide several)."""


class AgentOutput(_Event):
    """The structured output of one agent, plus its call's cost."""

    type: Literal["agent_output"] = "agent_output"
    node: str
    model: str
    symbol: str | None = None
    """The watchlist symbol the agent is working on (trading sessions decide several)."""
    output: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    fallback: bool = False
    """No valid answer: the agent's safe fallback output was used; `error` says why."""
    cached: bool = False
    """Answered from recorded responses (answer cache / replay): no model call."""
    repaired: bool = False
    """The first answer was invalid and a repair attempt fixed it."""
    error: str | None = None
    attempts: int = 0
    """Model calls made for this output (repairs and failed calls included)."""
    estimated_tokens: bool = False
    """A call broke off before the provider's usage: its tokens are a tokenizer count."""


class Decision(_Event):
    type: Literal["decision"] = "decision"
    action: Literal["buy", "sell", "hold"]
    size_pct: float
    entry: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    clamped: bool = False
    """The risk clamp changed what the trader asked for (size cut, or refused)."""
    awaiting_approval: bool = False


class TradeEvent(_Event):
    type: Literal["trade"] = "trade"
    portfolio_id: int
    trade_id: int | None
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float
    fee: float


class BudgetEvent(_Event):
    type: Literal["budget"] = "budget"
    scope: Literal["run", "day"]
    spent_usd: float
    limit_usd: float
    spent_tokens: int
    limit_tokens: int
    exceeded: bool
    reason: str | None = None


class Progress(_Event):
    """Backtest progress."""

    type: Literal["progress"] = "progress"
    done: int
    total: int
    equity: float | None = None


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str
    node: str | None = None
    severity: Literal["error", "warning"] = "error"
    """`warning`: the run goes on but the user must know (e.g. stale data: no trade possible)."""
    code: str | None = None
    """What kind of problem (`stale_data`, `no_replay_data`) when it is a known one: `message`
    is then plain words for a trader, and each client adds its own advice (a CLI flag, a button)."""


class SessionTick(_Event):
    """A trading session processed one bar: equity marked at the bar's close."""

    type: Literal["session_tick"] = "session_tick"
    bar_time: datetime
    """Open time of the bar (its close is `bar_time` + the interval)."""
    equity: float
    cash: float
    drawdown_pct: float
    exposure_pct: float
    bars_processed: int


SessionDecisionStatus = Literal[
    "decided", "filled", "skipped", "awaiting_approval", "expired", "rejected"
]


class SessionDecisionFields(BaseModel):
    """One (symbol, bar) decision of a trading session as every client sees it: the
    `session_decision` event and the sessions API's decision rows share these fields."""

    symbol: str
    bar_time: datetime
    action: Literal["buy", "sell", "hold"]
    approved: bool
    size_pct: float
    stop_loss: float | None = None
    take_profit: float | None = None
    status: SessionDecisionStatus
    detail: str | None = None
    trade_id: int | None = None
    reasons: list[str] = Field(default_factory=list)


class SessionDecision(_Event, SessionDecisionFields):
    """A trading session's decision for one symbol at one bar, or a change of its status
    (filled, skipped, approved, expired...)."""

    type: Literal["session_decision"] = "session_decision"


class SessionState(_Event):
    """A trading session's lifecycle changed (running, paused, stopping...) or it is doing
    something new (`doing`, in plain words)."""

    type: Literal["session_state"] = "session_state"
    status: str
    doing: str | None = None


class RunFinished(_Event):
    type: Literal["run_finished"] = "run_finished"
    status: Literal[
        "completed", "degraded", "failed", "cancelled", "budget_exceeded", "paused", "stopped"
    ]
    """`degraded`: a decision was made but some agents fell back; `failed`: it could not be
    made (a decider or every analyst fell back, or the run broke): see `reason`."""
    reason: str | None = None
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


RunEventModel = Annotated[
    RunStarted
    | NodeStarted
    | Token
    | AgentOutput
    | Decision
    | TradeEvent
    | BudgetEvent
    | Progress
    | ErrorEvent
    | SessionTick
    | SessionDecision
    | SessionState
    | RunFinished,
    Field(discriminator="type"),
]

run_event_adapter: TypeAdapter[RunEventModel] = TypeAdapter(RunEventModel)
