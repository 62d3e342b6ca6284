"""Backtest performance metrics: pure functions of a per-bar equity curve and closed trades.

Conventions (every formula is repeated on the field it defines):
- r_t = E_t / E_{t-1} - 1 is the simple return of bar t; there are n - 1 of them for n bars.
- Crypto trades 24/7, so a year is P = 365 × bars-per-day bars (`tools.intervals.bars_per_year`).
- The risk-free rate is 0.
- Returns are annualised (CAGR, Calmar) only over a window of at least a year: compounding two
  months of returns to a year states a figure nobody earned. Shorter windows report `cagr` and
  `calmar` as None with `annualised` False ("not annualised"); volatility, Sharpe and Sortino
  are per-bar statistics scaled by sqrt(P), as usual.
- Buy & hold is a baseline strategy (`tools.baselines.buy_and_hold`: same fees and slippage as
  the desk), not a metric: one definition, reported beside the desk, never a second figure here.
- Undefined ratios (division by zero: no trades, no losing trades, no volatility, no drawdown)
  are `None`, never inf or NaN, so the model always serialises to valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tools.intervals import bars_per_year

SECONDS_PER_YEAR = 365 * 86_400
MIN_ANNUALISED_YEARS = 1.0
"""Windows shorter than this (first bar's open to last bar's close) are not annualised."""


class ClosedTrade(BaseModel):
    """A round trip: bought at `entry_price`, sold at `exit_price` (both after slippage)."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    entry_time: datetime
    exit_time: datetime
    entry_price: float = Field(gt=0)
    exit_price: float = Field(gt=0)
    quantity: float = Field(gt=0)
    pnl: float = Field(description="(exit - entry) × quantity - fees, in the quote currency")
    fees: float = Field(ge=0, description="entry and exit fees of this trade")
    return_pct: float = Field(description="100 × pnl / (entry_price × quantity + entry fee)")
    exit_reason: str = Field(description="signal | stop_loss | take_profit | manual | end")


class BacktestMetrics(BaseModel):
    start: datetime
    end: datetime
    bars: int
    starting_equity: float
    final_equity: float
    total_return: float = Field(description="E_last / E_first - 1")
    annualised: bool = Field(
        description="True when the window (end - start + one bar) spans at least a year; "
        "otherwise cagr and calmar are None (not annualised)"
    )
    cagr: float | None = Field(
        description="(E_last / E_first)^(1 / years) - 1, years = (end - start) / 365 days; "
        "-1 when the equity is wiped out; None when the window is shorter than a year "
        "(`annualised` False) or the figure is too large for a float"
    )
    volatility: float = Field(description="sample std (ddof=1) of r_t × sqrt(P)")
    sharpe: float | None = Field(description="mean(r_t) / std(r_t, ddof=1) × sqrt(P)")
    sortino: float | None = Field(
        description="mean(r_t) / sqrt(mean(min(r_t, 0)^2)) × sqrt(P); the downside deviation "
        "averages over all n - 1 returns, not only the negative ones"
    )
    max_drawdown: float = Field(
        ge=0, le=1, description="max over t of 1 - E_t / max(E_0..E_t), a positive fraction"
    )
    max_drawdown_bars: int = Field(
        description="bars from the peak before the deepest trough to the first bar back at that "
        "peak (or to the last bar if never recovered)"
    )
    max_drawdown_duration: timedelta = Field(description="the same span in time")
    longest_drawdown_bars: int = Field(description="the longest peak-to-recovery span of any dd")
    longest_drawdown_duration: timedelta
    calmar: float | None = Field(description="cagr / max_drawdown")
    trades: int
    win_rate: float | None = Field(description="share of trades with pnl > 0")
    profit_factor: float | None = Field(
        description="sum of positive pnl / |sum of negative pnl|; None with no losing trade"
    )
    expectancy: float | None = Field(description="mean pnl per trade, quote currency")
    exposure_pct: float = Field(description="100 × bars in the market / bars")
    fees_paid: float


class _Drawdown(BaseModel):
    depth: float
    bars: int
    duration: timedelta
    longest_bars: int
    longest_duration: timedelta


def _validated_equity(equity: pd.Series) -> pd.Series:
    if not isinstance(equity, pd.Series):
        raise TypeError(f"equity: expected a pandas Series, got {type(equity).__name__}")
    if len(equity) < 2:
        raise ValueError(f"equity: need at least 2 bars, got {len(equity)}")
    index = equity.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None or str(index.tz) != "UTC":
        raise ValueError("equity.index: expected a UTC DatetimeIndex (one entry per bar)")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("equity.index: bar times must be strictly increasing")
    values = equity.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"equity: non-finite value at bar {int(np.argmin(np.isfinite(values)))}")
    if values[0] <= 0:
        raise ValueError(f"equity: the starting equity must be positive, got {values[0]}")
    if (values < 0).any():
        raise ValueError(f"equity: negative value at bar {int(np.argmax(values < 0))}")
    return equity.astype(np.float64)


def _drawdown(equity: np.ndarray, times: pd.DatetimeIndex) -> _Drawdown:
    """Depth of the deepest drawdown, its peak-to-recovery span, and the longest such span."""
    peaks = np.maximum.accumulate(equity)
    depth = 1.0 - equity / peaks
    last = len(equity) - 1

    trough = int(np.argmax(depth))
    max_depth = float(depth[trough])
    if max_depth == 0.0:
        zero = timedelta(0)
        return _Drawdown(depth=0.0, bars=0, duration=zero, longest_bars=0, longest_duration=zero)
    peak = int(np.flatnonzero(equity[: trough + 1] == peaks[trough])[-1])
    recovered = np.flatnonzero(equity[trough:] >= peaks[trough])
    recovery = trough + int(recovered[0]) if len(recovered) else last

    # Every drawdown starts at the last bar on a peak before a run of bars below it.
    longest_bars, longest_span = 0, (0, 0)
    at_peak = depth == 0.0
    start = 0
    for i in range(1, last + 1):
        if at_peak[i]:
            if i - start > longest_bars and not at_peak[i - 1]:
                longest_bars, longest_span = i - start, (start, i)
            start = i
    if not at_peak[last] and last - start > longest_bars:
        longest_bars, longest_span = last - start, (start, last)

    return _Drawdown(
        depth=max_depth,
        bars=recovery - peak,
        duration=(times[recovery] - times[peak]).to_pytimedelta(),
        longest_bars=longest_bars,
        longest_duration=(times[longest_span[1]] - times[longest_span[0]]).to_pytimedelta(),
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _cagr(growth: float, years: float) -> float | None:
    if growth <= 0:
        return -1.0
    try:
        return math.pow(growth, 1.0 / years) - 1.0
    except OverflowError:
        return None


def compute_metrics(
    equity: pd.Series,
    trades: Sequence[ClosedTrade],
    *,
    interval: str,
    fees_paid: float,
    exposure_bars: int,
) -> BacktestMetrics:
    """All metrics of one backtest; the field descriptions of `BacktestMetrics` give the
    formulas. `equity` is the account value marked at every bar's close, `exposure_bars` the
    number of those bars that ended with a position."""
    equity = _validated_equity(equity)
    periods_per_year = bars_per_year(interval)
    n = len(equity)
    if not 0 <= exposure_bars <= n:
        raise ValueError(
            f"exposure_bars: must be between 0 and {n} (the bars), got {exposure_bars}"
        )
    if not math.isfinite(fees_paid) or fees_paid < 0:
        raise ValueError(f"fees_paid: must be a finite amount >= 0, got {fees_paid}")

    values = equity.to_numpy()
    times = pd.DatetimeIndex(equity.index)
    returns = values[1:] / values[:-1] - 1.0
    mean_return = float(returns.mean())
    std_return = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    annualiser = math.sqrt(periods_per_year)

    growth = values[-1] / values[0]
    years = (times[-1] - times[0]).total_seconds() / SECONDS_PER_YEAR
    window_years = years + 1.0 / periods_per_year
    annualised = window_years >= MIN_ANNUALISED_YEARS
    cagr = _cagr(float(growth), years) if annualised else None
    drawdown = _drawdown(values, times)

    pnls = [trade.pnl for trade in trades]
    gross_profit = sum(p for p in pnls if p > 0)
    gross_loss = -sum(p for p in pnls if p < 0)

    return BacktestMetrics(
        start=times[0].to_pydatetime(),
        end=times[-1].to_pydatetime(),
        bars=n,
        starting_equity=float(values[0]),
        final_equity=float(values[-1]),
        total_return=float(growth - 1.0),
        annualised=annualised,
        cagr=cagr,
        volatility=std_return * annualiser,
        sharpe=(mean_return / std_return * annualiser) if std_return > 0 else None,
        sortino=(mean_return / downside * annualiser) if downside > 0 else None,
        max_drawdown=drawdown.depth,
        max_drawdown_bars=drawdown.bars,
        max_drawdown_duration=drawdown.duration,
        longest_drawdown_bars=drawdown.longest_bars,
        longest_drawdown_duration=drawdown.longest_duration,
        calmar=_ratio(cagr, drawdown.depth) if cagr is not None else None,
        trades=len(pnls),
        win_rate=(sum(1 for p in pnls if p > 0) / len(pnls)) if pnls else None,
        profit_factor=_ratio(gross_profit, gross_loss),
        expectancy=(sum(pnls) / len(pnls)) if pnls else None,
        exposure_pct=100.0 * exposure_bars / n,
        fees_paid=float(fees_paid),
    )
