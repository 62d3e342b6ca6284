"""Scenario tests: a few hand-made candles, a scripted decider, fills and equity by hand.

Every expected number below was computed by hand from the broker's rules (fill at the next
bar's open, slippage against the taker on the 0.01 tick, fee 0.1% of notional, quantity
rounded down to BTCUSDT's 0.00001 step).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from bt_helpers import HOLD, T0, CloseOnlySnapshots, ScriptedDecider, buy, frame_from_bars, sell

from graph.backtest.engine import MarketArrays, run_engine
from graph.backtest.schemas import BacktestParams


def params(n_bars: int, *, slippage: str = "0", every: int = 1) -> BacktestParams:
    return BacktestParams(
        symbol="BTCUSDT",
        interval="1h",
        start=T0,
        end=T0 + timedelta(hours=n_bars),
        every=every,
        starting_cash=Decimal(10000),
        fee_rate=Decimal("0.001"),
        slippage_bps=Decimal(slippage),
    )


def run(bars, script, *, slippage: str = "0", every: int = 1):
    frame = frame_from_bars(bars)
    decider = ScriptedDecider(script)
    outcome = run_engine(
        MarketArrays.from_frame(frame),
        params(len(bars), slippage=slippage, every=every),
        decider,
        CloseOnlySnapshots(frame),
        data_source="test",
    )
    return outcome, decider


def test_buy_then_sell_fills_at_next_open_with_fees() -> None:
    bars = [
        (100, 101, 99, 100),  # decide: buy 50%
        (100, 111, 100, 110),  # buy fills at open 100; decide: sell all
        (120, 121, 119, 120),  # sell fills at open 120
        (120, 121, 119, 121),  # last bar: no decision (nothing to fill it at)
    ]
    outcome, decider = run(bars, [buy(50), sell()])
    buy_fill, sell_fill = outcome.fills
    # budget 5000 / (100 × 1.001) = 49.950049… → 49.95004; notional 4995.004, fee 4.995004
    assert buy_fill.at == T0 + timedelta(hours=1)
    assert (buy_fill.quantity, buy_fill.price, buy_fill.fee) == (
        Decimal("49.95004"),
        Decimal(100),
        Decimal("4.995004"),
    )
    # 49.95004 × 120 = 5994.0048, fee 5.9940048
    assert sell_fill.at == T0 + timedelta(hours=2)
    assert (sell_fill.price, sell_fill.fee) == (Decimal(120), Decimal("5.9940048"))
    eq = outcome.state.equity
    assert eq[0] == pytest.approx(10000)
    assert eq[1] == pytest.approx(5000.000996 + 49.95004 * 110, abs=1e-9)
    assert eq[2] == pytest.approx(10988.0117912, abs=1e-9)
    assert eq[3] == pytest.approx(10988.0117912, abs=1e-9)
    (trade,) = outcome.closed_trades
    assert trade["pnl"] == pytest.approx(988.0117912, abs=1e-9)
    assert trade["fees"] == pytest.approx(10.9890088, abs=1e-9)
    assert trade["exit_reason"] == "signal"
    # three decisions: bars 0, 1, 2 of the range; none at the last bar
    assert outcome.state.spread.model_dump() == {"buy": 1, "sell": 1, "hold": 1}
    assert decider.seen[1][1].position_qty == pytest.approx(49.95004)
    assert outcome.stopped == "completed" and not outcome.partial


def test_slippage_moves_both_fills_against_the_taker() -> None:
    bars = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 100, 100, 100), (100, 100, 100, 100)]
    outcome, _ = run(bars, [buy(10), sell()], slippage="10")
    buy_fill, sell_fill = outcome.fills
    assert buy_fill.price == Decimal("100.10")  # 100 × 1.001
    assert sell_fill.price == Decimal("99.90")  # 100 × 0.999
    # budget 1000 / (100.1 × 1.001) = 9.98002… → 9.98002; round trip loses 0.2 per coin + fees
    qty = Decimal("9.98002")
    assert buy_fill.quantity == qty
    # notional in 999.000002 (fee 0.999000002), out 997.003998 (fee 0.997003998)
    assert buy_fill.fee == Decimal("0.999000002")
    assert sell_fill.fee == Decimal("0.997003998")
    assert outcome.state.equity[-1] == pytest.approx(9996.007992, abs=1e-9)
    assert outcome.state.equity[-1] < 10000


def test_stop_loss_hit_later_bar_fills_at_stop() -> None:
    bars = [
        (100, 100, 100, 100),  # decide: buy 50%, stop 95, tp 130
        (100, 101, 99, 100),  # entry at 100; range stays above the stop
        (99, 100, 94, 96),  # low 94 ≤ stop 95 → stop fills at 95
        (96, 96, 96, 96),
    ]
    outcome, _ = run(bars, [buy(50, stop="95", tp="130")])
    _, stop_fill = outcome.fills
    assert stop_fill.reason == "stop_loss" and stop_fill.price == Decimal(95)
    assert stop_fill.at == T0 + timedelta(hours=2)
    # 49.95004 × 95 = 4745.2538, fee 4.7452538; cash 5000.000996 + 4745.2538 − 4.7452538
    assert outcome.state.equity[-1] == pytest.approx(9740.5095422, abs=1e-9)
    assert outcome.closed_trades[0]["exit_reason"] == "stop_loss"


def test_gap_through_stop_fills_at_open_and_both_hit_takes_stop() -> None:
    gap = [(100, 100, 100, 100), (100, 100, 100, 100), (90, 92, 89, 91), (91, 91, 91, 91)]
    outcome, _ = run(gap, [buy(50, stop="95")])
    assert outcome.fills[1].price == Decimal(90) and outcome.fills[1].reason == "stop_loss"

    both = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 111, 94, 100), (100, 100, 100, 100)]
    outcome, _ = run(both, [buy(50, stop="95", tp="110")])
    assert outcome.fills[1].reason == "stop_loss" and outcome.fills[1].price == Decimal(95)


def test_take_profit_and_every_n_bars() -> None:
    bars = [(100, 100, 100, 100)] * 2 + [(100, 112, 100, 111)] + [(111, 111, 111, 111)] * 3
    # deciding every 3 bars: decisions at range bars 0 and 3 only
    outcome, decider = run(bars, [buy(20, tp="110"), HOLD], every=3)
    assert [d.bar - outcome.first_bar for d in outcome.state.decisions] == [0, 3]
    assert len(decider.seen) == 2
    _, tp_fill = outcome.fills
    assert tp_fill.reason == "take_profit" and tp_fill.price == Decimal(110)
    assert tp_fill.at == datetime(2023, 1, 1, 2, tzinfo=UTC)
    assert outcome.state.exposure_bars == 1  # held at the close of range bar 1 only
