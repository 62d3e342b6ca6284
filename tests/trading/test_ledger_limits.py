"""The ledger is the authority on the risk limits: each limit in `core.risk`, violated by an
order on the locked, fresh state, cuts the order (listed in `Fill.adjustments`) or skips it
(`OrderSkipped`, nothing written) — on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core.risk import OrderSkipped, RiskLimits
from persistence.db import session_scope
from persistence.ledger import account_figures, execute_order, load_state, reconcile
from persistence.models import PortfolioSnapshot, Trade
from persistence.portfolios import create_portfolio
from tools.broker import BrokerConfig, SimulatedBroker
from tools.orders import OrderRequest

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)
BROKER = SimulatedBroker(BrokerConfig(fee_rate=D("0.001"), slippage_bps=D(5)))
BTC, ETH = D(100_000), D(2_000)


def buy(symbol: str = "BTCUSDT", pct: str = "10", **extra: Any) -> OrderRequest:
    return OrderRequest(symbol=symbol, side="buy", size_pct_equity=D(pct), **extra)


def run(engine: Engine, pid: int, order: OrderRequest, price: D, coid: str, at: datetime = AT):
    return execute_order(
        engine, pid, order, client_order_id=coid, price=price, at=at, broker=BROKER
    )


def trades(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Trade)) or 0)


def shares(engine: Engine, pid: int, prices: dict[str, D]) -> tuple[dict[str, D], D, D]:
    """(position % of equity per symbol, exposure %, cash %) at `prices`."""
    state = load_state(engine, pid)
    values = {s: p.quantity * prices[s] for s, p in state.positions.items()}
    equity = state.cash + sum(values.values(), D(0))
    pct = {s: v / equity * 100 for s, v in values.items()}
    return pct, sum(values.values(), D(0)) / equity * 100, state.cash / equity * 100


def test_position_limit_cuts_an_oversized_buy(engine: Engine) -> None:
    pid = create_portfolio(engine, "p", D(10_000)).id
    fill = run(engine, pid, buy(pct="50"), BTC, "a")
    assert fill.adjustments and "cut to" in fill.adjustments[0]
    assert "position limit" in fill.adjustments[0]
    pct, _, _ = shares(engine, pid, {"BTCUSDT": BTC})
    assert D("9.9") < pct["BTCUSDT"] <= 10
    # The position is full: a second buy of the same symbol is skipped, nothing written.
    with pytest.raises(OrderSkipped, match="no room under the position limit"):
        run(engine, pid, buy(pct="5"), BTC, "b")
    assert trades(engine) == 1
    assert reconcile(engine, pid) == []


def test_exposure_and_cash_reserve_cut_across_symbols(engine: Engine) -> None:
    limits = RiskLimits(max_position_pct=40, max_total_exposure_pct=60, min_cash_reserve_pct=30)
    pid = create_portfolio(engine, "p", D(10_000), risk=limits).id
    prices = {"BTCUSDT": BTC, "ETHUSDT": ETH}
    run(engine, pid, buy(pct="35"), BTC, "a")
    second = run(engine, pid, buy("ETHUSDT", pct="35"), ETH, "b")
    # 60% exposure is the tighter of the two (a 30% reserve would allow 70%).
    assert "total exposure limit" in second.adjustments[0]
    pct, exposure, cash = shares(engine, pid, prices)
    assert max(pct.values()) <= 40 and exposure <= 60 and cash >= 30
    with pytest.raises(OrderSkipped, match="total exposure"):
        run(engine, pid, buy("ETHUSDT", pct="1"), ETH, "c")

    tight = create_portfolio(
        engine, "q", D(10_000), risk=RiskLimits(max_position_pct=100, min_cash_reserve_pct=90)
    ).id
    cut = run(engine, tight, buy(pct="50"), BTC, "d")
    assert "cash reserve" in cut.adjustments[0]
    assert shares(engine, tight, prices)[2] >= 90


def test_circuit_breakers_skip_buys_but_never_sells(engine: Engine) -> None:
    pid = create_portfolio(engine, "p", D(10_000), risk=RiskLimits(max_daily_loss_pct=3)).id
    run(engine, pid, buy(pct="9"), BTC, "a", at=AT - timedelta(days=1))
    # Yesterday's snapshot is the day start; BTC −40% today is a 3.6% loss of equity.
    with pytest.raises(OrderSkipped, match="daily-loss breaker"):
        run(engine, pid, buy(pct="1"), BTC * D("0.6"), "b")
    sell = OrderRequest(symbol="BTCUSDT", side="sell", sell_fraction=D(1))
    assert run(engine, pid, sell, BTC * D("0.6"), "c").side == "sell"
    with session_scope(engine) as session:
        snaps = session.scalar(select(func.count()).select_from(PortfolioSnapshot))
    assert trades(engine) == 2 and snaps == 2


def test_a_too_distant_stop_is_moved_up(engine: Engine) -> None:
    pid = create_portfolio(engine, "p", D(10_000)).id
    fill = run(engine, pid, buy(pct="5", stop_loss=D(80_000)), BTC, "a")
    assert "moved to 95000" in fill.adjustments[0]
    assert load_state(engine, pid).positions["BTCUSDT"].stop_loss == D(95_000)


def test_relative_orders_with_nothing_to_trade_are_skipped(engine: Engine) -> None:
    pid = create_portfolio(engine, "p", D(10_000)).id
    sell = OrderRequest(symbol="BTCUSDT", side="sell", sell_fraction=D("0.5"))
    with pytest.raises(OrderSkipped, match="nothing held"):
        run(engine, pid, sell, BTC, "a")
    with pytest.raises(OrderSkipped, match="less than one step"):
        run(engine, pid, buy(pct="0.0001"), BTC, "b")
    assert trades(engine) == 0


def test_account_figures_value_the_symbol_at_the_order_price(engine: Engine) -> None:
    pid = create_portfolio(engine, "p", D(10_000)).id
    run(engine, pid, buy(pct="5"), BTC, "a")
    run(engine, pid, buy("ETHUSDT", pct="8"), ETH, "b")
    state = load_state(engine, pid)
    figures = account_figures(state, "BTCUSDT", BTC * 2)
    btc = state.positions["BTCUSDT"].quantity * BTC * 2
    eth = state.positions["ETHUSDT"].quantity * state.last_prices["ETHUSDT"]
    assert figures.position_value == btc and figures.largest_other == eth
    assert figures.exposure == btc + eth and figures.equity == state.cash + btc + eth
