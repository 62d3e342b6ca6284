"""The bar loop of a backtest.

At every decision bar t the decider sees the indicator snapshot at t (computed once over the
whole series; indicators at t only read bars ≤ t) and the account valued at t's close. Its
order fills at bar t+1's open through the simulated broker. Stop-loss / take-profit of the open
position are checked on every bar, and equity is marked to every bar's close.

The loop is pure: no database, no clock. The caller passes `EngineHooks` for progress, cancel
checks and checkpoints, and can hand back an `EngineState` to resume exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
import pandas as pd

from graph.backtest.account import BacktestAccount
from graph.backtest.schemas import (
    AccountView,
    BacktestParams,
    DeciderOutput,
    DecisionRecord,
    EngineOutcome,
    EngineState,
    StopReason,
)
from tools.broker import BrokerConfig, SimulatedBroker
from tools.intervals import DAY_MS
from tools.snapshot import IndicatorSnapshot


class BudgetExhausted(RuntimeError):
    """Raised by a decider when the run's LLM budget is spent: the engine stops cleanly.

    `details` are the fields of a `graph.events.BudgetEvent` (scope, spent/limit USD/tokens)."""

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or {}


class NotEnoughHistoryError(ValueError):
    """The loaded data cannot cover the warm-up plus at least two traded bars."""


class Decider(Protocol):
    """Anything that turns the market at bar t and the account into a decision."""

    def decide(self, snapshot: IndicatorSnapshot, account: AccountView) -> DeciderOutput: ...


class SnapshotSource(Protocol):
    def snapshot(self, at: int) -> IndicatorSnapshot: ...


@dataclass(frozen=True)
class MarketArrays:
    """The loaded candles as plain Python lists: per-bar indexing with no pandas overhead."""

    times_ms: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> MarketArrays:
        index = pd.DatetimeIndex(frame.index)
        if index.tz is None:
            raise ValueError("candle frame index must be timezone-aware UTC open times")
        times = (index.tz_convert(UTC).as_unit("ms").asi8).tolist()
        return cls(
            times_ms=times,
            open=frame["open"].to_numpy(dtype=np.float64).tolist(),
            high=frame["high"].to_numpy(dtype=np.float64).tolist(),
            low=frame["low"].to_numpy(dtype=np.float64).tolist(),
            close=frame["close"].to_numpy(dtype=np.float64).tolist(),
        )

    def __len__(self) -> int:
        return len(self.times_ms)

    def time(self, i: int) -> datetime:
        return datetime.fromtimestamp(self.times_ms[i] / 1000, tz=UTC)


def traded_range(market: MarketArrays, params: BacktestParams) -> tuple[int, int]:
    """Positions of the first and last traded bar: open time in [start, end)."""
    start_ms = int(params.start.timestamp() * 1000)
    end_ms = int(params.end.timestamp() * 1000)
    times = np.asarray(market.times_ms, dtype=np.int64)
    first = int(np.searchsorted(times, start_ms, side="left"))
    last = int(np.searchsorted(times, end_ms, side="left")) - 1
    if last - first < 1:
        raise NotEnoughHistoryError(
            f"range: no candles to trade between {params.start:%Y-%m-%d %H:%M} and "
            f"{params.end:%Y-%m-%d %H:%M} ({max(0, last - first + 1)} bars)"
        )
    if first < params.warmup_bars:
        raise NotEnoughHistoryError(
            f"start: only {first} warm-up bars before {params.start:%Y-%m-%d}, "
            f"need {params.warmup_bars}"
        )
    return first, last


@dataclass
class EngineHooks:
    """Callbacks from the loop. All optional; `should_stop` is asked after every bar and must
    be cheap (throttle any database polling inside it)."""

    on_progress: Callable[[int, int, float], None] | None = None
    should_stop: Callable[[], StopReason | None] | None = None
    on_checkpoint: Callable[[EngineState], None] | None = None
    progress_every: int = 0  # bars; 0 → about 1% of the range
    checkpoint_every: int = 0  # bars; 0 → about 2% of the range


def make_broker(params: BacktestParams) -> SimulatedBroker:
    return SimulatedBroker(BrokerConfig(fee_rate=params.fee_rate, slippage_bps=params.slippage_bps))


def initial_state(params: BacktestParams, market: MarketArrays, first_bar: int) -> EngineState:
    account = BacktestAccount(params.symbol, params.starting_cash, make_broker(params))
    cash = float(params.starting_cash)
    return EngineState(
        next_bar=first_bar,
        account=account.to_dict(),
        day_start_equity=cash,
        peak_equity=cash,
        current_day=market.times_ms[first_bar] // DAY_MS,
    )


def run_engine(
    market: MarketArrays,
    params: BacktestParams,
    decider: Decider,
    snapshots: SnapshotSource,
    *,
    data_source: str,
    state: EngineState | None = None,
    hooks: EngineHooks | None = None,
) -> EngineOutcome:
    """Walk the traded bars from `state.next_bar` (a fresh state when None) to the end."""
    hooks = hooks or EngineHooks()
    first, last = traded_range(market, params)
    total = last - first + 1
    progress_every = hooks.progress_every or max(1, total // 100)
    checkpoint_every = hooks.checkpoint_every or max(1, total // 50)
    state = state.model_copy(deep=True) if state else initial_state(params, market, first)
    if not first <= state.next_bar <= last + 1:
        raise ValueError(f"checkpoint: cursor {state.next_bar} outside bars {first}..{last + 1}")
    account = BacktestAccount.from_dict(state.account, make_broker(params))
    pending = state.pending_order
    equity = state.equity
    equity_times = state.equity_times_ms
    opens, highs, lows, closes, times = (
        market.open,
        market.high,
        market.low,
        market.close,
        market.times_ms,
    )
    stopped: StopReason = "completed"
    budget: dict[str, Any] | None = None

    def checkpoint(next_bar: int) -> EngineState:
        state.next_bar = next_bar
        state.account = account.to_dict()
        state.pending_order = pending
        return state

    for i in range(state.next_bar, last + 1):
        at_ms = times[i]
        if pending is not None:
            account.execute(pending, Decimal(repr(opens[i])), at=market.time(i))
            pending = None
        if account.has_position:
            account.check_exits(opens[i], highs[i], lows[i], closes[i], at_ms=at_ms)

        day = at_ms // DAY_MS
        if day != state.current_day:
            # The loss circuit breaker compares with equity at UTC midnight: the last close.
            state.day_start_equity = equity[-1] if equity else state.day_start_equity
            state.current_day = day
        value = account.equity(closes[i])
        equity.append(value)
        equity_times.append(at_ms)
        if account.has_position:
            state.exposure_bars += 1
        if value > state.peak_equity:
            state.peak_equity = value

        if i < last and (i - first) % params.every == 0:
            view = account.view(closes[i], state.day_start_equity, state.peak_equity)
            try:
                out = decider.decide(snapshots.snapshot(i), view)
            except BudgetExhausted as exc:
                stopped = "budget_exceeded"
                budget = {**exc.details, "reason": exc.reason, "exceeded": True}
                checkpoint(i + 1)
                break
            state.usage.add(out)
            state.spread.add(out.action)
            order = out.order if out.approved and out.action != "hold" else None
            state.decisions.append(
                DecisionRecord(
                    bar=i,
                    at=market.time(i),
                    action=out.action,
                    approved=out.approved,
                    size_pct=out.size_pct,
                    stop_loss=float(order.stop_loss) if order and order.stop_loss else None,
                    take_profit=float(order.take_profit) if order and order.take_profit else None,
                    inputs=out.inputs,
                )
            )
            pending = order

        done = i - first + 1
        if hooks.on_progress and (done % progress_every == 0 or i == last):
            hooks.on_progress(done, total, value)
        if hooks.on_checkpoint and done % checkpoint_every == 0 and i < last:
            hooks.on_checkpoint(checkpoint(i + 1))
        if hooks.should_stop and i < last:
            reason = hooks.should_stop()
            if reason is not None:
                stopped = reason
                checkpoint(i + 1)
                break
    else:
        checkpoint(last + 1)

    return EngineOutcome(
        state=state,
        stopped=stopped,
        first_bar=first,
        last_bar=last,
        fills=list(account.fills),
        closed_trades=list(account.closed_trades),
        data_source=data_source,
        budget=budget,
    )
