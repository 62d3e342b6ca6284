"""Metrics: a hand-computed 5-bar case, edge cases, and real BTC 1h against a reference
implementation written here in plain loops (it does not call tools.metrics)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tools.baselines import buy_and_hold, sma_cross
from tools.metrics import ClosedTrade, compute_metrics


def _daily(values: list[float]) -> pd.Series:
    return pd.Series(
        values, index=pd.date_range("2024-01-01", periods=len(values), freq="D", tz="UTC")
    )


def _trade(pnl: float) -> ClosedTrade:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return ClosedTrade(
        symbol="BTCUSDT",
        entry_time=t0,
        exit_time=t0 + timedelta(days=1),
        entry_price=100.0,
        exit_price=100.0 + pnl,
        quantity=1.0,
        pnl=pnl,
        fees=0.0,
        return_pct=pnl,
        exit_reason="signal",
    )


# --- hand-computed ----------------------------------------------------------------------------


def test_five_bar_curve_by_hand() -> None:
    # E = 100, 110, 99, 99, 121 on daily bars: r = +0.1, -0.1, 0, +2/9.
    # mean r = (2/9)/4 = 1/18; sample var = sum((r - 1/18)^2)/3 -> std = 0.13788526...
    # sharpe = (1/18)/0.13788526 * sqrt(365) = 7.6976131; downside dev = sqrt(0.01/4) = 0.05,
    # sortino = (1/18)/0.05 * sqrt(365) = 21.2277480; volatility = 0.13788526 * sqrt(365).
    # Drawdown: peak 110 (bar 1) -> 99 = 10%, back above 110 at bar 4: 3 bars, 3 days.
    # Five days are not annualised: no CAGR, no Calmar. Trades: +10, -5, +20, -5.
    equity = _daily([100, 110, 99, 99, 121])
    m = compute_metrics(
        equity,
        [_trade(10), _trade(-5), _trade(20), _trade(-5)],
        interval="1d",
        fees_paid=2.5,
        exposure_bars=3,
    )
    assert m.total_return == pytest.approx(0.21)
    assert m.sharpe == pytest.approx(7.697613055567733, rel=1e-9)
    assert m.sortino == pytest.approx(21.227747971714248, rel=1e-9)
    assert m.volatility == pytest.approx(2.6342942456831793, rel=1e-9)
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.max_drawdown_bars == 3
    assert m.max_drawdown_duration == timedelta(days=3)
    assert m.longest_drawdown_bars == 3
    assert (m.annualised, m.cagr, m.calmar) == (False, None, None)
    assert m.trades == 4
    assert m.win_rate == 0.5
    assert m.profit_factor == pytest.approx(3.0)
    assert m.expectancy == pytest.approx(5.0)
    assert m.exposure_pct == pytest.approx(60.0)
    assert m.fees_paid == 2.5


def test_unrecovered_drawdown_runs_to_the_end() -> None:
    # peak 120 at bar 1, deepest 60 at bar 3 (50%), never back: 4 bars to the end.
    # An earlier, shallower one: 100 -> 90 -> 100 is 2 bars... here bar 0 is the first peak.
    m = compute_metrics(
        _daily([100, 120, 90, 60, 80, 100]),
        [],
        interval="1d",
        fees_paid=0,
        exposure_bars=0,
    )
    assert m.max_drawdown == pytest.approx(0.5)
    assert m.max_drawdown_bars == 4
    assert m.max_drawdown_duration == timedelta(days=4)
    assert m.longest_drawdown_bars == 4


def test_longest_drawdown_is_not_always_the_deepest() -> None:
    # deep but short: 100 -> 50 -> 100 (2 bars); shallow but long: 100 -> 95 x4 -> 101 (5 bars)
    m = compute_metrics(
        _daily([100, 50, 100, 95, 95, 95, 95, 101]),
        [],
        interval="1d",
        fees_paid=0,
        exposure_bars=0,
    )
    assert m.max_drawdown == pytest.approx(0.5)
    assert m.max_drawdown_bars == 2
    assert m.longest_drawdown_bars == 5
    assert m.longest_drawdown_duration == timedelta(days=5)


def test_undefined_ratios_are_none_and_json_safe() -> None:
    flat = compute_metrics(
        _daily([100, 100, 100]),
        [],
        interval="1d",
        fees_paid=0,
        exposure_bars=0,
    )
    assert (flat.sharpe, flat.sortino, flat.calmar) == (None, None, None)
    assert (flat.win_rate, flat.profit_factor, flat.expectancy) == (None, None, None)
    assert flat.max_drawdown == 0 and flat.max_drawdown_bars == 0
    only_winners = compute_metrics(
        _daily([100, 101, 102]),
        [_trade(1), _trade(1)],
        interval="1d",
        fees_paid=0,
        exposure_bars=2,
    )
    assert only_winners.profit_factor is None and only_winners.win_rate == 1.0
    assert only_winners.sortino is None  # no negative return: downside deviation is 0
    wiped = compute_metrics(
        _daily([100.0] * 364 + [50, 0]),  # a year: annualised
        [],
        interval="1d",
        fees_paid=0,
        exposure_bars=2,
    )
    assert wiped.cagr == -1.0 and wiped.max_drawdown == 1.0
    for m in (flat, only_winners, wiped):
        text = m.model_dump_json()
        assert "Infinity" not in text and "NaN" not in text
        json.loads(text)


def test_only_a_window_of_a_year_or_more_is_annualised() -> None:
    # 8760 hourly bars cover 365 days (the first bar's open to the last bar's close): a year.
    hours = pd.date_range("2024-01-01", periods=8760, freq="h", tz="UTC")
    year = pd.Series(100.0 + np.arange(8760) / 8759 * 10, index=hours)
    m = compute_metrics(year, [], interval="1h", fees_paid=0, exposure_bars=0)
    assert m.annualised and m.cagr == pytest.approx(0.1, rel=1e-3)
    # One bar short of a year, a steep run: not compounded to 2,000 %, simply not annualised.
    short = compute_metrics(
        year.iloc[:-1] * np.linspace(1, 20, 8759), [], interval="1h", fees_paid=0, exposure_bars=0
    )
    assert (short.annualised, short.cagr, short.calmar) == (False, None, None)
    assert short.total_return > 10  # the return itself is still reported


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"equity": _daily([100])}, "equity: need at least 2 bars"),
        ({"equity": _daily([100, float("nan"), 100])}, "equity: non-finite value at bar 1"),
        ({"equity": _daily([0, 1, 2])}, "equity: the starting equity"),
        (
            {"equity": pd.Series([1.0, 2.0], index=pd.date_range("2024", periods=2, freq="D"))},
            "equity.index",
        ),
        ({"exposure_bars": 4}, "exposure_bars"),
        ({"fees_paid": -1.0}, "fees_paid"),
        ({"interval": "2x"}, "unknown interval"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, message: str) -> None:
    arguments: dict = {
        "equity": _daily([100, 101, 102]),
        "trades": [],
        "interval": "1d",
        "fees_paid": 0.0,
        "exposure_bars": 1,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        compute_metrics(**arguments)


def test_closed_trade_reads_the_backtest_engine_dicts() -> None:
    trade = ClosedTrade.model_validate(
        {
            "symbol": "BTCUSDT",
            "entry_time": "2024-01-01T00:00:00+00:00",
            "exit_time": "2024-01-02T00:00:00+00:00",
            "entry_price": 100.0,
            "exit_price": 110.0,
            "quantity": 2.0,
            "pnl": 19.58,
            "fees": 0.42,
            "return_pct": 9.77,
            "exit_reason": "take_profit",
        }
    )
    assert trade.entry_time.tzinfo is not None and trade.pnl == 19.58


# --- real data against a plain-loop reference -------------------------------------------------


def _reference_metrics(
    times: list[datetime], equity: list[float], pnls: list[float], periods_per_year: float
) -> dict[str, float]:
    """Independent, loop-by-loop computation of the same definitions."""
    returns = []
    for i in range(1, len(equity)):
        returns.append(equity[i] / equity[i - 1] - 1)
    mean = sum(returns) / len(returns)
    var = 0.0
    for r in returns:
        var += (r - mean) ** 2
    std = math.sqrt(var / (len(returns) - 1))
    down = 0.0
    for r in returns:
        if r < 0:
            down += r * r
    down = math.sqrt(down / len(returns))

    peak_value, peak_at = equity[0], 0
    worst, worst_peak_at, worst_peak_value, worst_at = 0.0, 0, equity[0], 0
    spans: list[int] = []
    in_dd = False
    for i, value in enumerate(equity):
        if value >= peak_value:
            if in_dd:
                spans.append(i - peak_at)
                in_dd = False
            peak_value, peak_at = value, i
        else:
            in_dd = True
            dd = 1 - value / peak_value
            if dd > worst:
                worst, worst_peak_at, worst_peak_value, worst_at = dd, peak_at, peak_value, i
    if in_dd:
        spans.append(len(equity) - 1 - peak_at)
    recovery = len(equity) - 1
    for i in range(worst_at, len(equity)):
        if equity[i] >= worst_peak_value:
            recovery = i
            break

    years = (times[-1] - times[0]).total_seconds() / (365 * 24 * 3600)
    cagr = (equity[-1] / equity[0]) ** (1 / years) - 1
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    return {
        "total_return": equity[-1] / equity[0] - 1,
        "cagr": cagr,
        "volatility": std * math.sqrt(periods_per_year),
        "sharpe": mean / std * math.sqrt(periods_per_year),
        "sortino": mean / down * math.sqrt(periods_per_year),
        "max_drawdown": worst,
        "max_drawdown_bars": recovery - worst_peak_at,
        "longest_drawdown_bars": max(spans),
        "calmar": cagr / worst,
        "win_rate": len(wins) / len(pnls),
        "profit_factor": sum(wins) / -sum(losses) if losses else math.nan,
        "expectancy": sum(pnls) / len(pnls),
    }


@pytest.mark.realdata
@pytest.mark.parametrize("strategy", ["sma_cross", "buy_and_hold"])
def test_real_btc_year_matches_reference(real_btc_1h_year: pd.DataFrame, strategy: str) -> None:
    year = real_btc_1h_year.iloc[200:]  # calendar 2023
    costs = {"symbol": "BTCUSDT", "starting_cash": 10_000.0, "fee_rate": 0.001, "slippage_bps": 5}
    if strategy == "sma_cross":
        result = sma_cross(year["close"], 20, 50, open=year["open"], **costs)
        assert len(result.trades) > 50  # a real test of the trade statistics
    else:
        result = buy_and_hold(year["close"], **costs)
    m = compute_metrics(
        result.equity,
        result.trades,
        interval="1h",
        fees_paid=result.fees_paid,
        exposure_bars=result.exposure_bars,
    )
    ref = _reference_metrics(
        [t.to_pydatetime() for t in result.equity.index],
        result.equity.tolist(),
        [t.pnl for t in result.trades],
        365 * 24,
    )
    for name, expected in ref.items():
        actual = getattr(m, name)
        if math.isnan(expected):
            assert actual is None, name  # e.g. buy-and-hold: one winning trade, no loss
            continue
        assert actual == pytest.approx(expected, rel=5e-3), name
    assert m.trades == len(result.trades)
    assert m.start == datetime(2023, 1, 1, tzinfo=UTC)
