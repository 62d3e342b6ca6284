"""Structured data of a backtest: its parameters, what a decider returns, the per-decision
record, the engine checkpoint and the final report.

Everything here is JSON-serialisable so it can live in `runs.params`, `runs.checkpoint` and
`backtest_results` unchanged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from core.bounds import (
    MAX_BARS_PER_RUN,
    Bps,
    Cash,
    CostCap,
    EveryBars,
    Fraction,
    Interval,
    PastTime,
    RangeEnd,
    Symbol,
    WarmupBars,
    cross_field,
)
from tools.intervals import interval_ms
from tools.orders import OrderRequest

Action = Literal["buy", "sell", "hold"]


class BacktestParams(BaseModel):
    """What to backtest. `start` is inclusive, `end` exclusive (open times of traded bars)."""

    symbol: Symbol
    interval: Interval
    start: PastTime = Field(description="first bar traded (UTC), 2009-01-03 … now")
    end: RangeEnd = Field(description="exclusive end (UTC), after start, at most a day ahead")
    every: EveryBars = Field(default=1, description="decide every N bars")
    # Defaults documented as the JSON numbers the fields take.
    starting_cash: Cash = Field(default=Decimal("10000"), json_schema_extra={"default": 10000})
    fee_rate: Fraction = Field(default=Decimal("0.001"), json_schema_extra={"default": 0.001})
    slippage_bps: Bps = Field(default=Decimal("5"), json_schema_extra={"default": 5})
    warmup_bars: WarmupBars = 200
    max_cost_usd: CostCap | None = Field(
        default=None, description="explicitly raised cost cap; None = settings cap"
    )
    use_llm_cache: bool = Field(default=True, strict=True)
    blind: bool = Field(
        default=False,
        strict=True,
        description="the desk sees an anonymous ticker, rebased prices and relative times "
        "(fills and accounting stay real): compare with and without to spot memorisation",
    )
    clip: bool = Field(
        default=False,
        strict=True,
        description="run on the part of the range real data covers (else such a range is refused)",
    )
    synthetic: bool = Field(
        default=False, strict=True, description="ask for synthetic candles (labelled so everywhere)"
    )
    data_notes: list[str] = Field(
        default_factory=list,
        description="what the data loader changed (clipped range, start moved past warm-up)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> BacktestParams:
        if self.start >= self.end:
            raise cross_field(
                "end", f"must be after start ({self.start:%Y-%m-%d}), got {self.end:%Y-%m-%d}"
            )
        bars = (self.end - self.start) // timedelta(milliseconds=interval_ms(self.interval))
        if bars + self.warmup_bars > MAX_BARS_PER_RUN:
            raise cross_field(
                "end",
                f"range spans {bars} {self.interval} bars (+{self.warmup_bars} warm-up); "
                f"at most {MAX_BARS_PER_RUN}",
            )
        return self


class AccountView(BaseModel):
    """The account as the desk sees it at a decision point (valued at the decision bar's close)."""

    cash: float
    equity: float
    position_qty: float
    position_value: float
    avg_entry_price: float | None
    stop_loss: float | None
    take_profit: float | None
    exposure_pct: float
    day_start_equity: float
    peak_equity: float
    starting_cash: float


class DecisionInputs(BaseModel):
    """Where a decision's inputs came from and when they were public (real values, also in
    blind mode, where the desk itself saw them masked)."""

    price_source: str | None = None
    sentiment_source: str | None = None
    sentiment_as_of: datetime | None = None
    fear_greed: int | None = None
    headline_count: int | None = None
    tokenomics_source: str | None = None
    tokenomics_as_of: datetime | None = None
    blind: bool = False


class DeciderOutput(BaseModel):
    """One decision. `order` is None for a hold or a rejected proposal."""

    action: Action
    approved: bool = True
    size_pct: float = 0.0
    order: OrderRequest | None = None
    llm_calls: int = 0
    """Model calls made (repairs and failed calls included; answers from the recording: 0)."""
    fallbacks: int = 0
    """Agents of this decision that fell back (no valid answer)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    inputs: DecisionInputs | None = None
    reasons: list[str] = Field(default_factory=list)
    """The desk's reasons (risk gate included): shown by trading sessions."""
    stop_loss: float | None = None
    take_profit: float | None = None
    """The decision's protective levels (real prices), also when no order follows."""


class DecisionRecord(BaseModel):
    """One decision point in the log, compact (a year of 1h bars keeps ~9k of these)."""

    bar: int = Field(description="position of the decision bar in the loaded frame")
    at: datetime
    action: Action
    approved: bool
    size_pct: float
    stop_loss: float | None = None
    take_profit: float | None = None
    inputs: DecisionInputs | None = None


class FillRecord(BaseModel):
    """A fill of the backtest account, JSON-friendly (Decimals as strings)."""

    at: datetime
    side: Literal["buy", "sell"]
    quantity: Decimal
    price: Decimal
    fee: Decimal
    reason: str
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


class DecisionSpread(BaseModel):
    buy: int = 0
    sell: int = 0
    hold: int = 0

    @property
    def total(self) -> int:
        return self.buy + self.sell + self.hold

    def add(self, action: Action) -> None:
        setattr(self, action, getattr(self, action) + 1)

    def dominant_warning(self, threshold: float = 0.9) -> str | None:
        """A warning when one action exceeds `threshold` of all decisions."""
        if self.total == 0:
            return None
        for action in ("buy", "sell", "hold"):
            share = getattr(self, action) / self.total
            if share > threshold:
                return (
                    f"{action} was {share:.0%} of {self.total} decisions (> {threshold:.0%}): "
                    "the model barely varies its answer"
                )
        return None


class LLMUsage(BaseModel):
    llm_calls: int = 0
    fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, out: DeciderOutput) -> None:
        self.llm_calls += out.llm_calls
        self.fallbacks += out.fallbacks
        self.prompt_tokens += out.prompt_tokens
        self.completion_tokens += out.completion_tokens
        self.cost_usd += out.cost_usd


class EngineState(BaseModel):
    """Everything the engine needs to continue after bar `next_bar - 1`: the resume point.

    Persisted in `runs.checkpoint`; a resumed run continues from here and ends with the same
    result as an uninterrupted one.
    """

    next_bar: int
    account: dict[str, Any]
    pending_order: OrderRequest | None = None
    equity: list[float] = Field(default_factory=list)
    equity_times_ms: list[int] = Field(default_factory=list)
    exposure_bars: int = 0
    decisions: list[DecisionRecord] = Field(default_factory=list)
    spread: DecisionSpread = Field(default_factory=DecisionSpread)
    usage: LLMUsage = Field(default_factory=LLMUsage)
    day_start_equity: float
    peak_equity: float
    current_day: int = Field(description="UTC day number (epoch days) of the last marked bar")


StopReason = Literal["completed", "cancelled", "budget_exceeded"]


class EngineOutcome(BaseModel):
    """Raw outcome of the bar loop, before metrics and baselines."""

    state: EngineState
    stopped: StopReason
    first_bar: int
    last_bar: int
    fills: list[FillRecord]
    closed_trades: list[dict[str, Any]]
    data_source: str
    budget: dict[str, Any] | None = Field(
        default=None, description="BudgetEvent fields when the budget ran out"
    )

    @property
    def partial(self) -> bool:
        return self.stopped != "completed"
