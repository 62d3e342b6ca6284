"""Portfolio maths: errors, marking, and the accounting identity over random order sequences."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trading_helpers import SYMBOLS, order_sequences, simulate

from tools.broker import BrokerConfig, SimulatedBroker
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import (
    InsufficientCashError,
    InsufficientPositionError,
    MissingPriceError,
    PortfolioMathError,
    PortfolioState,
    apply_fill,
    fold_fills,
    mark,
    resolve_order_quantity,
)

AT = datetime(2024, 1, 1, tzinfo=UTC)


def fill(side: str, qty: str, price: str, fee: str = "0", symbol: str = "BTCUSDT") -> Fill:
    return Fill(
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        slippage_bps=D(0),
        reason="signal",
        executed_at=AT,
        client_order_id="x",
    )


def test_overspending_raises() -> None:
    state = PortfolioState.start(D(100))
    with pytest.raises(InsufficientCashError, match="quantity"):
        apply_fill(state, fill("buy", "1", "100", fee="0.1"))


def test_overselling_raises() -> None:
    state = apply_fill(PortfolioState.start(D(1000)), fill("buy", "1", "100"))
    with pytest.raises(InsufficientPositionError, match="quantity"):
        apply_fill(state, fill("sell", "1.5", "100"))
    with pytest.raises(InsufficientPositionError):
        apply_fill(state, fill("sell", "1", "100", symbol="ETHUSDT"))


def test_bad_starting_cash() -> None:
    with pytest.raises(PortfolioMathError, match="starting_cash"):
        PortfolioState.start(D(-1))
    with pytest.raises(PortfolioMathError, match="starting_cash"):
        PortfolioState.start(100.0)  # type: ignore[arg-type]


def test_mark_needs_every_held_price() -> None:
    state = apply_fill(PortfolioState.start(D(1000)), fill("buy", "1", "100"))
    with pytest.raises(MissingPriceError, match="BTCUSDT"):
        mark(state, {})


def test_average_cost_and_partial_sell() -> None:
    state = fold_fills(
        D(1000), [fill("buy", "1", "100"), fill("buy", "2", "130"), fill("sell", "1", "150")]
    )
    position = state.positions["BTCUSDT"]
    assert position.quantity == 2
    # basis 360 over 3 units = 120 each; one sold removes 120
    assert position.cost_basis == D(240)
    assert position.avg_entry_price == D(120)
    assert state.realized_pnl == D(30)
    valuation = mark(state, {"BTCUSDT": D(110)})
    assert valuation.unrealized_pnl == D(-20)
    assert valuation.equity == D(1000) - 100 - 260 + 150 + 220


def test_buy_levels_replace_and_plain_buy_keeps_them() -> None:
    entry = fill("buy", "1", "100").model_copy(update={"trade_id": 7})
    state = apply_fill(PortfolioState.start(D(1000)), entry, stop_loss=D(95), take_profit=D(120))
    state = apply_fill(state, fill("buy", "1", "100").model_copy(update={"trade_id": 8}))
    position = state.positions["BTCUSDT"]
    assert (position.stop_loss, position.take_profit, position.protective_trade_id) == (
        D(95),
        D(120),
        7,
    )


def test_resolve_buy_is_capped_by_cash_and_sell_fraction_rounds_down() -> None:
    broker = SimulatedBroker(BrokerConfig(fee_rate=D(0), slippage_bps=D(0)))
    state = apply_fill(PortfolioState.start(D(1000)), fill("buy", "0.009", "100000"))
    # equity 1000, cash 100: 30 % of equity (300) is capped at the 100 of cash
    order = OrderRequest(symbol="BTCUSDT", side="buy", size_pct_equity=D(30))
    assert resolve_order_quantity(state, order, D(100000), broker) == D("0.001")
    sell = OrderRequest(symbol="BTCUSDT", side="sell", sell_fraction=D("0.33"))
    assert resolve_order_quantity(state, sell, D(100000), broker) == D("0.00297")
    everything = OrderRequest(symbol="BTCUSDT", side="sell", sell_fraction=D(1))
    assert resolve_order_quantity(state, everything, D(100000), broker) == D("0.009")


def test_resolve_requires_a_size() -> None:
    broker = SimulatedBroker()
    state = PortfolioState.start(D(1000))
    with pytest.raises(PortfolioMathError, match="size_pct_equity"):
        resolve_order_quantity(state, OrderRequest(symbol="BTCUSDT", side="buy"), D(1), broker)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=order_sequences(max_size=25),
    start=st.integers(100, 1_000_000).map(D),
    slippage=st.sampled_from([D(0), D(5), D("12.5")]),
    marks=st.lists(st.integers(1, 10_000_000), min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
)
def test_accounting_identity_holds_exactly(
    orders: list[tuple[OrderRequest, D]], start: D, slippage: D, marks: list[int]
) -> None:
    broker = SimulatedBroker(BrokerConfig(slippage_bps=slippage))
    state, fills = simulate(start, orders, broker)
    assert state.cash >= 0
    assert all(p.quantity > 0 and p.cost_basis >= 0 for p in state.positions.values())
    prices = {symbol: D(m).scaleb(-2) for symbol, m in zip(SYMBOLS, marks, strict=True)}
    valuation = mark(state, prices)
    assert valuation.cash + valuation.positions_value == (
        start + valuation.realized_pnl + valuation.unrealized_pnl - valuation.fees_paid
    )
    assert valuation.fees_paid == sum((f.fee for f in fills), D(0))
    # Folding the fills again from scratch gives the same state: the derivation is a function.
    assert fold_fills(start, fills).model_dump(exclude={"fill_count"}) == state.model_dump(
        exclude={"fill_count"}
    )
