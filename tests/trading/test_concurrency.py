"""Concurrent runs on one portfolio never overspend: the portfolio row lock serialises sizing."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import Engine, select

from core.risk import OrderSkipped
from persistence.db import session_scope
from persistence.ledger import execute_order, load_state, reconcile
from persistence.models import Trade
from persistence.portfolios import create_portfolio
from tools.broker import BrokerConfig, SimulatedBroker
from tools.orders import Fill, OrderRequest

AT = datetime(2024, 3, 1, tzinfo=UTC)
START = D(10000)
BROKER = SimulatedBroker(BrokerConfig(fee_rate=D("0.001"), slippage_bps=D(5)))


def hammer(engine: Engine, client_order_ids: list[str]) -> tuple[list[Fill], list[Exception]]:
    portfolio = create_portfolio(
        engine,
        "shared",
        START,
        risk={
            "max_position_pct": 100.0,
            "max_total_exposure_pct": 100.0,
            "min_cash_reserve_pct": 0.0,
        },
    )
    barrier = threading.Barrier(len(client_order_ids))
    fills: list[Fill] = []
    refused: list[Exception] = []
    unexpected: list[BaseException] = []

    def run(client_order_id: str) -> None:
        order = OrderRequest(symbol="BTCUSDT", side="buy", size_pct_equity=D(30))
        barrier.wait()
        try:
            fill = execute_order(
                engine,
                portfolio.id,
                order,
                client_order_id=client_order_id,
                price=D(100000),
                at=AT,
                broker=BROKER,
            )
            assert fill is not None
            fills.append(fill)
        except OrderSkipped as exc:  # cash exhausted: what is left is below one step
            refused.append(exc)
        except BaseException as exc:
            unexpected.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in client_order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert unexpected == []

    state = load_state(engine, portfolio.id)
    assert state.cash >= 0
    with session_scope(engine) as session:
        trades = session.scalars(select(Trade).where(Trade.portfolio_id == portfolio.id)).all()
    spent = sum((t.quantity * t.price + t.fee for t in trades if t.side == "buy"), D(0))
    assert spent <= START
    assert state.cash == START - spent
    assert max(Counter(t.client_order_id for t in trades).values()) == 1
    assert reconcile(engine, portfolio.id) == []
    return fills, refused


def _check_outcome(fills: list[Fill], refused: list[Exception]) -> None:
    # 30 % of ~10000 three times, then the ~10 % left, then nothing fits any more.
    distinct = {f.client_order_id for f in fills}
    assert len(distinct) == 4
    assert len(fills) + len(refused) == 10


@pytest.mark.postgres
def test_parallel_buys_never_overspend_on_postgres(pg_engine: Engine) -> None:
    ids = [f"run:{i}" for i in range(8)] + ["run:0", "run:1"]  # two replays of the same runs
    _check_outcome(*hammer(pg_engine, ids))


def test_parallel_buys_never_overspend_on_sqlite(sqlite_engine: Engine) -> None:
    ids = [f"run:{i}" for i in range(8)] + ["run:0", "run:1"]
    _check_outcome(*hammer(sqlite_engine, ids))
