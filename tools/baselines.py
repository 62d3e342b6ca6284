"""Baseline strategies a backtest is compared with: buy-and-hold and an SMA crossover.

Both trade one symbol long-only with the whole account, in float maths with the broker's cost
model (`tools.broker`): a buy fills at price × (1 + slippage), a sell at price × (1 - slippage),
and the fee is `fee_rate` × notional. Unlike the broker there is no step/tick rounding, so a
baseline can differ from a broker-simulated run by those roundings only.

The equity is marked at every bar's close. An open position is sold at the last bar's close
(`exit_reason="end"`), so the final equity is cash and the trades' pnl sums to the profit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tools.metrics import ClosedTrade

BPS = 10_000.0


@dataclass(frozen=True)
class BaselineResult:
    """What `tools.metrics.compute_metrics` needs, besides the interval and benchmark."""

    name: str
    equity: pd.Series
    trades: list[ClosedTrade] = field(default_factory=list)
    fees_paid: float = 0.0
    exposure_bars: int = 0


@dataclass
class _Position:
    quantity: float
    price: float
    fee: float
    time: pd.Timestamp


def _validate_prices(name: str, prices: pd.Series) -> np.ndarray:
    if not isinstance(prices, pd.Series):
        raise TypeError(f"{name}: expected a pandas Series, got {type(prices).__name__}")
    index = prices.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None or str(index.tz) != "UTC":
        raise ValueError(f"{name}.index: expected a UTC DatetimeIndex of candle open times")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError(f"{name}.index: candle open times must be strictly increasing")
    values = prices.to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        raise ValueError(f"{name}: price at bar {int(np.argmax(bad))} is not a positive number")
    return values


def _validate_costs(starting_cash: float, fee_rate: float, slippage_bps: float) -> None:
    if not (math.isfinite(starting_cash) and starting_cash > 0):
        raise ValueError(f"starting_cash: must be a positive amount, got {starting_cash}")
    if not 0 <= fee_rate < 1:
        raise ValueError(f"fee_rate: must be in [0, 1), got {fee_rate}")
    if not 0 <= slippage_bps < BPS:
        raise ValueError(f"slippage_bps: must be in [0, 10000), got {slippage_bps}")


class _LongOnlyAccount:
    """All-in / all-out account; records closed trades as `ClosedTrade`."""

    def __init__(self, symbol: str, cash: float, fee_rate: float, slippage_bps: float) -> None:
        self.symbol = symbol
        self.cash = cash
        self.fee_rate = fee_rate
        self.slip = slippage_bps / BPS
        self.position: _Position | None = None
        self.trades: list[ClosedTrade] = []
        self.fees_paid = 0.0

    def buy_all(self, reference_price: float, at: pd.Timestamp) -> None:
        price = reference_price * (1.0 + self.slip)
        quantity = self.cash / (price * (1.0 + self.fee_rate))
        fee = quantity * price * self.fee_rate
        self.cash -= quantity * price + fee
        self.fees_paid += fee
        self.position = _Position(quantity=quantity, price=price, fee=fee, time=at)

    def sell_all(self, reference_price: float, at: pd.Timestamp, reason: str) -> None:
        entry = self.position
        if entry is None:
            raise RuntimeError("sell_all without a position")
        price = reference_price * (1.0 - self.slip)
        proceeds = entry.quantity * price
        fee = proceeds * self.fee_rate
        self.cash += proceeds - fee
        self.fees_paid += fee
        pnl = (price - entry.price) * entry.quantity - entry.fee - fee
        self.trades.append(
            ClosedTrade(
                symbol=self.symbol,
                entry_time=entry.time.to_pydatetime(),
                exit_time=at.to_pydatetime(),
                entry_price=entry.price,
                exit_price=price,
                quantity=entry.quantity,
                pnl=pnl,
                fees=entry.fee + fee,
                return_pct=100.0 * pnl / (entry.price * entry.quantity + entry.fee),
                exit_reason=reason,
            )
        )
        self.position = None

    def value(self, mark_price: float) -> float:
        held = self.position.quantity * mark_price if self.position else 0.0
        return self.cash + held


def buy_and_hold(
    close: pd.Series,
    *,
    symbol: str,
    starting_cash: float,
    fee_rate: float,
    slippage_bps: float,
) -> BaselineResult:
    """Buy with all the cash at the first bar's close, sell at the last bar's close.

    Every bar counts as exposed (the position is held from the first close to the last)."""
    prices = _validate_prices("close", close)
    _validate_costs(starting_cash, fee_rate, slippage_bps)
    if len(prices) < 2:
        raise ValueError(f"close: need at least 2 bars, got {len(prices)}")
    times = pd.DatetimeIndex(close.index)
    account = _LongOnlyAccount(symbol, starting_cash, fee_rate, slippage_bps)
    equity = np.empty(len(prices))
    # Bar 0 is marked before the opening buy fills at its close, so the curve starts at
    # `starting_cash` and the entry costs show in the return like any other trade's.
    equity[0] = starting_cash
    account.buy_all(prices[0], times[0])
    for t in range(1, len(prices) - 1):
        equity[t] = account.value(prices[t])
    account.sell_all(prices[-1], times[-1], "end")
    equity[-1] = account.cash
    return BaselineResult(
        name="buy_and_hold",
        equity=pd.Series(equity, index=times, name="equity"),
        trades=account.trades,
        fees_paid=account.fees_paid,
        exposure_bars=len(prices),
    )


def sma_cross(
    close: pd.Series,
    fast: int = 20,
    slow: int = 50,
    *,
    open: pd.Series,  # the fill price; the name matches the candle column
    symbol: str,
    starting_cash: float,
    fee_rate: float,
    slippage_bps: float,
) -> BaselineResult:
    """Long while SMA(fast) > SMA(slow) of the closes, flat otherwise.

    The signal is read at bar t's close and filled at bar t+1's open, so nothing after bar t
    is used to decide at t. Before both averages exist the strategy is flat.
    """
    closes = _validate_prices("close", close)
    opens = _validate_prices("open", open)
    if not open.index.equals(close.index):
        raise ValueError("open.index: must be the same bars as close.index")
    if not (isinstance(fast, int) and isinstance(slow, int) and 1 <= fast < slow):
        raise ValueError(f"fast, slow: need integers with 1 <= fast < slow, got {fast}, {slow}")
    _validate_costs(starting_cash, fee_rate, slippage_bps)
    if len(closes) < 2:
        raise ValueError(f"close: need at least 2 bars, got {len(closes)}")

    fast_sma = close.rolling(fast).mean().to_numpy()
    slow_sma = close.rolling(slow).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        want_long = fast_sma > slow_sma  # NaN compares False: flat during warm-up

    times = pd.DatetimeIndex(close.index)
    account = _LongOnlyAccount(symbol, starting_cash, fee_rate, slippage_bps)
    equity = np.empty(len(closes))
    exposure_bars = 0
    last = len(closes) - 1
    for t in range(len(closes)):
        if t > 0:
            if want_long[t - 1] and account.position is None:
                account.buy_all(opens[t], times[t])
            elif not want_long[t - 1] and account.position is not None:
                account.sell_all(opens[t], times[t], "signal")
        if account.position is not None:
            exposure_bars += 1
            if t == last:
                account.sell_all(closes[t], times[t], "end")
        equity[t] = account.value(closes[t])
    return BaselineResult(
        name=f"sma_cross_{fast}_{slow}",
        equity=pd.Series(equity, index=times, name="equity"),
        trades=account.trades,
        fees_paid=account.fees_paid,
        exposure_bars=exposure_bars,
    )
