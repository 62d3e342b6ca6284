"""Backtest-style scenario tests for the simulated broker and the portfolio maths.

In the spirit of freqtrade's backtest scenario tests: each scenario is a handful of candles,
the orders placed at given bars, and — computed by hand in the table — the expected fills,
fees, cash and P&L. Conventions of the little harness below:
- an order listed at bar i is a market order filled at bar i's OPEN (the "next bar's open"
  after a signal on bar i-1);
- protective exits are checked on every bar after the entry bar, before that bar's order;
- BTCUSDT rules (step 0.00001, tick 0.01, min notional 5), fee 0.1 %, no slippage unless set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Literal

import pytest

from tools.broker import Bar, BrokerConfig, OrderRejected, SimulatedBroker
from tools.orders import Fill
from tools.portfolio_math import (
    InsufficientPositionError,
    PortfolioState,
    apply_fill,
    mark,
)

SYMBOL = "BTCUSDT"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Order:
    side: Literal["buy", "sell"]
    quantity: str | None = None
    quote_budget: str | None = None  # buys: spend at most this (fee included)
    sell_fraction: str | None = None
    stop_loss: str | None = None
    take_profit: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    bars: list[tuple[str, str, str, str]]  # open, high, low, close
    orders: dict[int, Order]
    # (bar index, side, quantity, fill price, fee, reason)
    fills: list[tuple[int, str, str, str, str, str]]
    cash: str
    realized: str
    fees: str
    equity: str  # marked at the last bar's close
    slippage_bps: str = "0"
    error: type[Exception] | None = None
    error_bar: int | None = None
    notes: str = field(default="", compare=False)


def run(s: Scenario) -> tuple[PortfolioState, list[tuple[int, Fill]]]:
    broker = SimulatedBroker(BrokerConfig(fee_rate=D("0.001"), slippage_bps=D(s.slippage_bps)))
    state = PortfolioState.start(D(10000))
    fills: list[tuple[int, Fill]] = []
    entry_bar: int | None = None
    for i, (o, h, low, c) in enumerate(s.bars):
        bar = Bar(open=D(o), high=D(h), low=D(low), close=D(c))
        at = T0 + timedelta(hours=i)
        position = state.positions.get(SYMBOL)
        if position is not None and entry_bar is not None and i > entry_bar:
            signal = broker.check_exit(position.stop_loss, position.take_profit, bar)
            if signal is not None:
                fill = broker.exit_fill(
                    signal, SYMBOL, position.quantity, at=at, client_order_id=f"exit:{i}"
                )
                state = apply_fill(state, fill)
                fills.append((i, fill))
        order = s.orders.get(i)
        if order is None:
            continue
        if order.side == "buy":
            quantity = (
                D(order.quantity)
                if order.quantity is not None
                else broker.size_buy(D(order.quote_budget or "0"), bar.open, symbol=SYMBOL)
            )
        elif order.sell_fraction is not None:
            quantity = broker.round_quantity(
                SYMBOL, state.quantity(SYMBOL) * D(order.sell_fraction)
            )
        else:
            quantity = D(order.quantity or "0")
        held = state.quantity(SYMBOL)
        fill = broker.market_fill(
            SYMBOL,
            order.side,
            quantity,
            bar.open,
            at=at,
            client_order_id=f"order:{i}",
            closes_position=order.side == "sell" and quantity == held,
        )
        state = apply_fill(
            state,
            fill,
            stop_loss=D(order.stop_loss) if order.stop_loss else None,
            take_profit=D(order.take_profit) if order.take_profit else None,
        )
        fills.append((i, fill))
        if order.side == "buy":
            entry_bar = i
    return state, fills


FLAT = ("100000", "100500", "99500", "100000")
ENTRY = (0, "buy", "0.01", "100000", "1", "signal")  # 0.01 BTC at bar 0's open, fee 1

SCENARIOS = [
    Scenario(
        name="plain buy then sell",
        bars=[FLAT, ("110000", "110500", "109500", "110000")],
        orders={0: Order("buy", quantity="0.01"), 1: Order("sell", quantity="0.01")},
        # buy 1000 + fee 1; sell 1100 − fee 1.1
        fills=[
            ENTRY,
            (1, "sell", "0.01", "110000", "1.1", "signal"),
        ],
        cash="10097.9",
        realized="100",
        fees="2.1",
        equity="10097.9",
    ),
    Scenario(
        name="stop hit inside the bar",
        bars=[FLAT, ("99000", "100000", "94000", "96000")],
        orders={0: Order("buy", quantity="0.01", stop_loss="95000")},
        fills=[
            ENTRY,
            (1, "sell", "0.01", "95000", "0.95", "stop_loss"),
        ],
        cash="9948.05",  # 10000 − 1001 + 950 − 0.95
        realized="-50",
        fees="1.95",
        equity="9948.05",
    ),
    Scenario(
        name="take-profit hit inside the bar",
        bars=[FLAT, ("101000", "111000", "100500", "109000")],
        orders={0: Order("buy", quantity="0.01", take_profit="110000")},
        fills=[
            ENTRY,
            (1, "sell", "0.01", "110000", "1.1", "take_profit"),
        ],
        cash="10097.9",
        realized="100",
        fees="2.1",
        equity="10097.9",
    ),
    Scenario(
        name="stop and take-profit in one bar: stop first",
        bars=[FLAT, ("100000", "111000", "94000", "105000")],
        orders={0: Order("buy", quantity="0.01", stop_loss="95000", take_profit="110000")},
        fills=[
            ENTRY,
            (1, "sell", "0.01", "95000", "0.95", "stop_loss"),
        ],
        cash="9948.05",
        realized="-50",
        fees="1.95",
        equity="9948.05",
    ),
    Scenario(
        name="gap through the stop fills at the open",
        bars=[FLAT, ("90000", "91000", "89000", "90500")],
        orders={0: Order("buy", quantity="0.01", stop_loss="95000")},
        fills=[
            ENTRY,
            (1, "sell", "0.01", "90000", "0.9", "stop_loss"),
        ],
        cash="9898.1",  # 10000 − 1001 + 900 − 0.9
        realized="-100",
        fees="1.9",
        equity="9898.1",
    ),
    Scenario(
        name="gap over the take-profit fills at the open",
        bars=[FLAT, ("112000", "113000", "111500", "112500")],
        orders={0: Order("buy", quantity="0.01", take_profit="110000")},
        fills=[
            ENTRY,
            (1, "sell", "0.01", "112000", "1.12", "take_profit"),
        ],
        cash="10117.88",  # 10000 − 1001 + 1120 − 1.12
        realized="120",
        fees="2.12",
        equity="10117.88",
    ),
    Scenario(
        name="fee accounting over two buys and one sell (average cost)",
        bars=[
            FLAT,
            ("120000", "120500", "119500", "120000"),
            ("130000", "130500", "129500", "130000"),
        ],
        orders={
            0: Order("buy", quantity="0.01"),
            1: Order("buy", quantity="0.01"),
            2: Order("sell", quantity="0.02"),
        },
        fills=[
            ENTRY,
            (1, "buy", "0.01", "120000", "1.2", "signal"),
            (2, "sell", "0.02", "130000", "2.6", "signal"),
        ],
        cash="10395.2",  # 10000 − 1001 − 1201.2 + 2600 − 2.6
        realized="400",  # 2600 − (1000 + 1200); fees kept apart
        fees="4.8",
        equity="10395.2",
    ),
    Scenario(
        name="slippage: buys pay up, sells receive less",
        bars=[FLAT, ("110000", "110500", "109500", "110000")],
        orders={0: Order("buy", quantity="0.01"), 1: Order("sell", quantity="0.01")},
        slippage_bps="10",
        # buy at 100000 × 1.001 = 100100; sell at 110000 × 0.999 = 109890
        fills=[
            (0, "buy", "0.01", "100100", "1.001", "signal"),
            (1, "sell", "0.01", "109890", "1.0989", "signal"),
        ],
        cash="10095.8001",  # 10000 − 1001 − 1.001 + 1098.9 − 1.0989
        realized="97.9",
        fees="2.0999",
        equity="10095.8001",
    ),
    Scenario(
        name="slippage applies to a stop exit",
        bars=[FLAT, ("99000", "100000", "94000", "96000")],
        orders={0: Order("buy", quantity="0.01", stop_loss="95000")},
        slippage_bps="10",
        # entry 100100; stop market order at 95000 × 0.999 = 94905
        fills=[
            (0, "buy", "0.01", "100100", "1.001", "signal"),
            (1, "sell", "0.01", "94905", "0.94905", "stop_loss"),
        ],
        cash="9946.09995",  # 10000 − 1001 − 1.001 + 949.05 − 0.94905
        realized="-51.95",
        fees="1.95005",
        equity="9946.09995",
    ),
    Scenario(
        name="below minimum notional is rejected",
        bars=[FLAT],
        orders={0: Order("buy", quantity="0.00004")},  # 4 USDT < 5
        fills=[],
        cash="10000",
        realized="0",
        fees="0",
        equity="10000",
        error=OrderRejected,
        error_bar=0,
    ),
    Scenario(
        name="budget sizing rounds down to the step, fee included",
        bars=[FLAT],
        # 1000 / (100000 × 1.001) = 0.00999000999… → 0.00999; 999 + 0.999 ≤ 1000
        orders={0: Order("buy", quote_budget="1000")},
        fills=[(0, "buy", "0.00999", "100000", "0.999", "signal")],
        cash="9000.001",
        realized="0",
        fees="0.999",
        equity="9999.001",  # marked at close 100000
    ),
    Scenario(
        name="explicit quantity rounded down to the step",
        bars=[FLAT, ("105000", "105500", "104500", "105000")],
        orders={0: Order("buy", quantity="0.0123456")},
        fills=[(0, "buy", "0.01234", "100000", "1.234", "signal")],
        cash="8764.766",  # 10000 − 1234 − 1.234
        realized="0",
        fees="1.234",
        equity="10060.466",  # 8764.766 + 0.01234 × 105000 (= 1295.7)
    ),
    Scenario(
        name="selling more than held is rejected",
        bars=[FLAT, FLAT],
        orders={0: Order("buy", quantity="0.01"), 1: Order("sell", quantity="0.02")},
        fills=[ENTRY],
        cash="8999",
        realized="0",
        fees="1",
        equity="9999",
        error=InsufficientPositionError,
        error_bar=1,
    ),
    Scenario(
        name="sell a fraction of the position",
        bars=[FLAT, ("120000", "120500", "119500", "120000")],
        orders={0: Order("buy", quantity="0.01"), 1: Order("sell", sell_fraction="0.5")},
        fills=[
            ENTRY,
            (1, "sell", "0.005", "120000", "0.6", "signal"),
        ],
        cash="9598.4",  # 10000 − 1001 + 600 − 0.6
        realized="100",  # 600 − half the 1000 basis
        fees="1.6",
        equity="10198.4",  # + 0.005 × 120000
    ),
    Scenario(
        name="no-trade bar: levels not reached",
        bars=[FLAT, ("100000", "105000", "97000", "103000")],
        orders={0: Order("buy", quantity="0.01", stop_loss="95000", take_profit="110000")},
        fills=[ENTRY],
        cash="8999",
        realized="0",
        fees="1",
        equity="10029",  # 8999 + 0.01 × 103000
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    if scenario.error is not None:
        truncated = Scenario(**{**scenario.__dict__, "bars": scenario.bars[: scenario.error_bar]})
        with pytest.raises(scenario.error):
            run(Scenario(**{**scenario.__dict__, "error": None}))
        state, fills = run(truncated)  # the state just before the rejected order
    else:
        state, fills = run(scenario)

    got = [(i, f.side, f.quantity, f.price, f.fee, f.reason) for i, f in fills]
    want = [(i, side, D(q), D(p), D(fee), reason) for i, side, q, p, fee, reason in scenario.fills]
    assert got == want
    assert state.cash == D(scenario.cash)
    assert state.realized_pnl == D(scenario.realized)
    assert state.fees_paid == D(scenario.fees)
    last_close = D(scenario.bars[-1][3])
    valuation = mark(state, {SYMBOL: last_close})
    assert valuation.equity == D(scenario.equity)
    # The accounting identity holds in every scenario, exactly.
    assert valuation.cash + valuation.positions_value == (
        D(10000) + valuation.realized_pnl + valuation.unrealized_pnl - valuation.fees_paid
    )
