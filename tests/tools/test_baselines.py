"""Baselines: fills and fees on tiny hand-made tables, no look-ahead on real BTC 1h."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.baselines import buy_and_hold, sma_cross


def _hourly(values: list[float]) -> pd.Series:
    return pd.Series(
        values, index=pd.date_range("2024-01-01", periods=len(values), freq="h", tz="UTC")
    )


COSTS = {"symbol": "BTCUSDT", "starting_cash": 1_000.0}


def test_buy_and_hold_without_costs_tracks_the_price() -> None:
    close = _hourly([100, 110, 99, 121])
    result = buy_and_hold(close, fee_rate=0.0, slippage_bps=0, **COSTS)
    np.testing.assert_allclose(result.equity.to_numpy(), [1000, 1100, 990, 1210])
    assert result.fees_paid == 0
    assert result.exposure_bars == 4
    (trade,) = result.trades
    assert trade.pnl == pytest.approx(210)
    assert trade.exit_reason == "end"


def test_buy_and_hold_fees_and_slippage_by_hand() -> None:
    close = _hourly([100, 110, 121])
    result = buy_and_hold(close, fee_rate=0.01, slippage_bps=10, **COSTS)
    # buy at 100 × 1.001 = 100.1; quantity = 1000 / (100.1 × 1.01); the fee is 1% of notional
    quantity = 1000 / (100.1 * 1.01)
    entry_fee = quantity * 100.1 * 0.01
    # sell at 121 × 0.999 = 120.879, 1% fee on the proceeds
    exit_fee = quantity * 120.879 * 0.01
    final = quantity * 120.879 - exit_fee
    np.testing.assert_allclose(result.equity.to_numpy(), [1000, quantity * 110, final])
    assert final == pytest.approx(1000 / 100.1 / 1.01 * 120.879 * 0.99)
    assert result.fees_paid == pytest.approx(entry_fee + exit_fee)
    (trade,) = result.trades
    assert trade.entry_price == pytest.approx(100.1)
    assert trade.exit_price == pytest.approx(120.879)
    assert trade.fees == pytest.approx(entry_fee + exit_fee)
    assert trade.pnl == pytest.approx(final - 1000)
    assert trade.return_pct == pytest.approx(100 * (final - 1000) / 1000)
    no_costs = buy_and_hold(close, fee_rate=0.0, slippage_bps=0, **COSTS)
    assert no_costs.equity.iloc[-1] - result.equity.iloc[-1] == pytest.approx(1210 - final)


def test_sma_cross_fills_next_open_with_fees_by_hand() -> None:
    # fast=1, slow=2: long while close_t > (close_{t-1} + close_t) / 2, i.e. the close rose.
    close = _hourly([10, 11, 12, 11, 10, 12])
    open_ = _hourly([10, 10.5, 11.5, 12, 10.5, 11])
    result = sma_cross(close, 1, 2, open=open_, fee_rate=0.001, slippage_bps=0, **COSTS)
    # signal at bar 1 close -> buy at bar 2 open (11.5); flat signal at bar 3 -> sell at bar 4
    # open (10.5); the rising close at the last bar cannot be filled any more.
    quantity = 1000 / (11.5 * 1.001)
    final = quantity * 10.5 * 0.999
    np.testing.assert_allclose(
        result.equity.to_numpy(), [1000, 1000, quantity * 12, quantity * 11, final, final]
    )
    assert result.exposure_bars == 2
    assert result.fees_paid == pytest.approx(quantity * 11.5 * 0.001 + quantity * 10.5 * 0.001)
    (trade,) = result.trades
    assert trade.entry_time == close.index[2].to_pydatetime()
    assert trade.exit_time == close.index[4].to_pydatetime()
    assert (trade.entry_price, trade.exit_price) == (11.5, 10.5)
    assert trade.exit_reason == "signal"
    assert trade.pnl == pytest.approx(final - 1000)


def test_sma_cross_liquidates_at_the_last_close() -> None:
    close = _hourly([1, 2, 3, 4])
    result = sma_cross(close, 1, 2, open=close, fee_rate=0.0, slippage_bps=0, **COSTS)
    (trade,) = result.trades
    assert trade.exit_reason == "end" and trade.exit_price == 4
    assert result.equity.iloc[-1] == pytest.approx(1000 / 3 * 4)
    assert result.exposure_bars == 2


@pytest.mark.realdata
def test_real_year_invariants(real_btc_1h_year: pd.DataFrame) -> None:
    year = real_btc_1h_year
    result = sma_cross(year["close"], open=year["open"], fee_rate=0.001, slippage_bps=5, **COSTS)
    assert len(result.trades) > 50
    assert sum(t.pnl for t in result.trades) == pytest.approx(result.equity.iloc[-1] - 1000)
    assert sum(t.fees for t in result.trades) == pytest.approx(result.fees_paid)
    closes = year["close"]
    fast, slow = closes.rolling(20).mean(), closes.rolling(50).mean()
    for trade in result.trades[:-1]:
        entry = year.index.get_loc(pd.Timestamp(trade.entry_time))
        exit_ = year.index.get_loc(pd.Timestamp(trade.exit_time))
        assert fast.iloc[entry - 1] > slow.iloc[entry - 1]  # decided on the previous close
        assert not fast.iloc[exit_ - 1] > slow.iloc[exit_ - 1]
        assert trade.entry_price == pytest.approx(year["open"].iloc[entry] * 1.0005)
        assert trade.exit_price == pytest.approx(year["open"].iloc[exit_] * 0.9995)


@pytest.mark.realdata
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=2, max_value=2_999))
def test_no_look_ahead(real_btc_1h_year: pd.DataFrame, cut: int) -> None:
    """Truncating the bars after `cut` leaves the equity before it unchanged (the truncated
    run's own last bar differs only because it liquidates there)."""
    bars = real_btc_1h_year.iloc[:3_000]
    kwargs = {"fee_rate": 0.001, "slippage_bps": 5, **COSTS}
    full = sma_cross(bars["close"], open=bars["open"], **kwargs)
    part = sma_cross(bars["close"].iloc[: cut + 1], open=bars["open"].iloc[: cut + 1], **kwargs)
    np.testing.assert_array_equal(part.equity.to_numpy()[:cut], full.equity.to_numpy()[:cut])
    closed_before = [t for t in full.trades if t.exit_time < bars.index[cut]]
    assert part.trades[: len(closed_before)] == closed_before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fee_rate": -0.1}, ValueError, "fee_rate"),
        ({"fee_rate": 1.0}, ValueError, "fee_rate"),
        ({"slippage_bps": -1}, ValueError, "slippage_bps"),
        ({"starting_cash": 0.0}, ValueError, "starting_cash"),
        ({"fast": 50, "slow": 20}, ValueError, "fast, slow"),
        ({"open": _hourly([1.0, 2.0, 3.0])}, ValueError, "open.index"),
        ({"close": _hourly([1.0, -2.0, 3.0, 4.0])}, ValueError, "close: price at bar 1"),
        ({"close": [1.0, 2.0]}, TypeError, "close: expected a pandas Series"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, error: type[Exception], message: str) -> None:
    arguments: dict = {
        "close": _hourly([1.0, 2.0, 3.0, 4.0]),
        "open": _hourly([1.0, 2.0, 3.0, 4.0]),
        "fast": 1,
        "slow": 2,
        "fee_rate": 0.0,
        "slippage_bps": 0,
        **COSTS,
    } | kwargs
    with pytest.raises(error, match=message):
        sma_cross(**arguments)
