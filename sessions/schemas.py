"""The contract of trading sessions: what a session is, what the API/CLI show of it, and the
events it streams. Shared by `sessions/` (engine, job), `api/routes/sessions.py`, `cli/session.py`
and the web UI (through the OpenAPI schema).

A session = a paper portfolio + a watchlist + an interval + a clock + risk limits (the
portfolio's) + an approval policy. It runs as a run of kind `session` on the job queue: its
events go through `run_events` (SSE, resume by `Last-Event-ID`) like any run's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from core.bounds import DbId, Interval, Name, PastTime, RangeEnd, Symbol, cross_field
from graph.events import SessionDecisionFields

ClockKind = Literal["replay", "live"]
ApprovalPolicy = Literal["auto", "require"]
SessionStatus = Literal[
    "pending",  # created, its job not yet picked up
    "running",  # a worker is stepping it
    "paused",  # by the user: the clock stops; resume continues at the next unprocessed bar
    "stopping",  # stop asked; the current bar finishes, then `stopped`
    "stopped",  # by the user (terminal)
    "completed",  # a replay reached `until` / the end of stored history (terminal)
    "failed",  # could not go on: `error` says why (terminal)
]
TERMINAL_SESSION = frozenset({"stopped", "completed", "failed"})

MAX_WATCHLIST = 20


def _json_integer(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    return value


JSON_INTEGER = BeforeValidator(_json_integer)
"""An integer field of a body: 5 and 5.0 are integers (as JSON Schema says); "5", true not."""
Speed = Annotated[float, Field(gt=0, le=100_000)]
"""Replay speed: simulated seconds per wall second (3600 = one 1h bar a second)."""


class SessionSpec(BaseModel):
    """What to start. `replay_from` set → a replay clock; else a live clock (wall time).
    Numbers and flags are JSON numbers and booleans, as the schema says ("5" or `false` for a
    number, "yes" for a flag are refused)."""

    symbols: list[Symbol] = Field(min_length=1, max_length=MAX_WATCHLIST)
    interval: Interval = "1h"
    portfolio_id: Annotated[DbId, JSON_INTEGER] | None = Field(
        default=None, description="paper portfolio to trade into; None → a new one named `name`"
    )
    name: Name | None = Field(default=None, description="session (and new portfolio) name")
    starting_cash: float | None = Field(
        default=None,
        strict=True,
        gt=0,
        le=1e12,
        description="cash of a new portfolio (default 10,000)",
    )
    replay_from: PastTime | None = Field(
        default=None, description="replay: first bar to decide (open time, UTC)"
    )
    until: RangeEnd | None = Field(
        default=None, description="stop after the bar opening before this time"
    )
    speed: Speed | None = Field(
        default=None,
        strict=True,
        description="replay pace in simulated seconds per second; None = max",
    )
    approval: ApprovalPolicy = "auto"
    approval_timeout_bars: Annotated[int, JSON_INTEGER] = Field(
        default=3, ge=1, le=10_000, description="a pending approval is skipped after N bars"
    )
    every: Annotated[int, JSON_INTEGER] = Field(
        default=1, ge=1, le=10_000, description="decide every N bars"
    )
    fee_rate: float = Field(default=0.001, strict=True, ge=0, le=0.5)
    slippage_bps: float = Field(default=5, strict=True, ge=0, le=1000)
    rules: bool = Field(
        default=False, strict=True, description="use the offline rules engine as the model"
    )

    @model_validator(mode="after")
    def _checks(self) -> SessionSpec:
        if len(set(self.symbols)) != len(self.symbols):
            raise cross_field("symbols", "each symbol once")
        start, until = self.replay_from, self.until
        if start is not None and until is not None and until <= start:
            raise cross_field("until", "must be after replay_from")
        if self.speed is not None and self.replay_from is None:
            raise cross_field("speed", "only a replay has a speed")
        return self

    @property
    def clock(self) -> ClockKind:
        return "replay" if self.replay_from is not None else "live"


class LimitMaxima(BaseModel):
    """The highest value each limit reached over the session (percent of equity), beside it."""

    max_position_pct: float = 0.0
    max_total_exposure_pct: float = 0.0
    min_cash_pct: float = 100.0
    max_drawdown_pct: float = 0.0
    max_daily_loss_pct: float = 0.0


class PendingApproval(BaseModel):
    symbol: str
    bar_time: datetime
    action: Literal["buy", "sell"]
    size_pct: float
    expires_after_bar: datetime


class SymbolState(BaseModel):
    """One watchlist symbol's latest state."""

    symbol: str
    last_bar: datetime | None = None
    last_close: float | None = None
    last_action: Literal["buy", "sell", "hold"] | None = None
    position_qty: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None


class SessionView(BaseModel):
    """`GET /api/sessions/{id}` and `cryptofirm session show ID --json`."""

    id: str = Field(description="the session's run id")
    name: str
    status: SessionStatus
    clock: ClockKind
    symbols: list[str]
    interval: str
    portfolio_id: int
    approval: ApprovalPolicy
    approval_timeout_bars: int
    replay_from: datetime | None = None
    until: datetime | None = None
    speed: float | None = None
    data_source: str | None = None
    now: datetime | None = Field(default=None, description="the session clock: last bar close")
    next_bar: datetime | None = Field(default=None, description="open time of the next bar")
    bars_processed: int = 0
    decisions: int = 0
    trades: int = 0
    equity: float | None = None
    starting_cash: float | None = None
    drawdown_pct: float | None = None
    doing: str | None = Field(default=None, description="what it is doing now, in plain words")
    error: str | None = None
    limits: dict[str, float] = Field(default_factory=dict)
    maxima: LimitMaxima = Field(default_factory=LimitMaxima)
    symbols_state: list[SymbolState] = Field(default_factory=list)
    pending_approvals: list[PendingApproval] = Field(default_factory=list)
    last_event_seq: int = Field(
        default=0, description="sequence of its newest stored event: where a live stream starts"
    )
    created_at: datetime
    updated_at: datetime


class SessionDecisionRow(SessionDecisionFields):
    """`GET /api/sessions/{id}/decisions`: one row per (symbol, bar), exactly once."""


class ParityDiff(BaseModel):
    what: Literal["decision", "fill", "equity"]
    symbol: str | None = None
    at: datetime
    session: str
    backtest: str


class ParityReport(BaseModel):
    """A session compared with the backtest of the same symbols, bars, costs and model."""

    session_id: str
    bars: int
    decisions_compared: int
    fills_compared: int
    equity_points_compared: int
    identical: bool
    differences: list[ParityDiff] = Field(default_factory=list)
    session_final_equity: float
    backtest_final_equity: float
    notes: list[str] = Field(
        default_factory=list, description="what was not compared, and why (plain words)"
    )
