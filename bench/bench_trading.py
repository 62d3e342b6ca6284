"""Trading: the pure fold vs the persistent ledger (SQLite file) for the same order stream.

The ledger re-derives the portfolio from every trade inside each fill's transaction, so its
per-fill cost grows with the ledger; the figures show how much at a few ledger sizes.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from persistence.db import make_engine, upgrade
from persistence.ledger import execute_order
from persistence.portfolios import create_portfolio
from tools.broker import BrokerConfig, SimulatedBroker
from tools.orders import OrderRequest
from tools.portfolio_math import (
    PortfolioState,
    apply_fill,
    order_fill,
    resolve_order_quantity,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BROKER = SimulatedBroker(BrokerConfig())


def _orders(n: int) -> list[tuple[OrderRequest, Decimal]]:
    out = []
    for i in range(n):
        price = Decimal(60000 + (i * 37) % 5000)
        if i % 2 == 0:
            out.append(
                (OrderRequest(symbol="BTCUSDT", side="buy", size_pct_equity=Decimal(2)), price)
            )
        else:
            out.append(
                (OrderRequest(symbol="BTCUSDT", side="sell", sell_fraction=Decimal("0.5")), price)
            )
    return out


def _pure(orders: list[tuple[OrderRequest, Decimal]]) -> float:
    started = time.perf_counter()
    state = PortfolioState.start(Decimal(100000))
    for i, (order, price) in enumerate(orders):
        qty = resolve_order_quantity(state, order, price, BROKER)
        at = T0 + timedelta(minutes=i)
        fill = order_fill(state, order, qty, price, BROKER, at=at, client_order_id=str(i))
        state = apply_fill(state, fill)
    return time.perf_counter() - started


def main() -> None:
    n = 300
    orders = _orders(n)
    pure = _pure(orders)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        p = create_portfolio(engine, "bench", Decimal(100000), risk={"max_position_pct": 100.0})
        marks: dict[int, float] = {}
        started = time.perf_counter()
        for i, (order, price) in enumerate(orders):
            t = time.perf_counter()
            execute_order(
                engine,
                p.id,
                order,
                client_order_id=f"b{i}",
                price=price,
                at=T0 + timedelta(minutes=i),
                broker=BROKER,
            )
            if i in (0, n // 2, n - 1):
                marks[i] = time.perf_counter() - t
        ledger = time.perf_counter() - started
        engine.dispose()
    print(f"pure fold: {n} orders in {pure * 1000:.1f} ms ({pure / n * 1e6:.0f} µs/order)")
    print(f"ledger (SQLite): {n} orders in {ledger:.2f} s ({ledger / n * 1000:.1f} ms/order)")
    print(f"ledger / pure: {ledger / pure:.0f}x")
    for i, dt in marks.items():
        print(f"  fill #{i + 1} (ledger of {i} trades): {dt * 1000:.1f} ms")
