"""The persistent ledger on SQLite and Postgres: idempotency, reconcile, snapshots, bad input."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, func, select, update
from trading_helpers import order_sequences, simulate

from core.settings import Settings
from persistence.db import session_scope
from persistence.ledger import (
    LedgerError,
    LedgerExecutor,
    ReconcileError,
    apply_bar_exits,
    execute_order,
    load_state,
    reconcile,
    take_snapshot,
)
from persistence.models import Candle, Portfolio, PortfolioSnapshot, Position, Trade
from persistence.portfolios import (
    PortfolioError,
    UnknownPortfolioError,
    create_portfolio,
    ensure_default_portfolio,
    get_portfolio,
    mark_prices,
)
from tools.broker import Bar, BrokerConfig, OrderRejected, SimulatedBroker
from tools.orders import OrderRequest
from tools.portfolio_math import InsufficientPositionError

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)
NO_SLIP = SimulatedBroker(BrokerConfig(fee_rate=D("0.001"), slippage_bps=D(0)))
OPEN_LIMITS = {
    "max_position_pct": 100.0,
    "max_total_exposure_pct": 100.0,
    "min_cash_reserve_pct": 0.0,
    "max_daily_loss_pct": 100.0,
    "max_drawdown_pct": 100.0,
}


def buy(pct: str = "10", **extra: object) -> OrderRequest:
    return OrderRequest(symbol="BTCUSDT", side="buy", size_pct_equity=D(pct), **extra)  # type: ignore[arg-type]


def count(engine: Engine, model: type) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_buy_writes_trade_cache_and_snapshot(engine: Engine) -> None:
    p = create_portfolio(engine, "alpha", D(10000), risk=OPEN_LIMITS)
    fill = execute_order(
        engine, p.id, buy("10"), client_order_id="c1", price=D(100000), at=AT, broker=NO_SLIP
    )
    assert fill is not None and fill.trade_id is not None
    # 10 % of 10000 = 1000 budget; 1000 / (100000 × 1.001) → 0.00999 BTC
    assert fill.quantity == D("0.00999") and fill.fee == D("0.999")
    state = load_state(engine, p.id)
    assert state.cash == D("9000.001")
    with session_scope(engine) as session:
        position = session.scalars(select(Position)).one()
        assert position.quantity == D("0.00999") and position.avg_entry_price == D(100000)
        snapshot = session.scalars(select(PortfolioSnapshot)).one()
        assert snapshot.cash == D("9000.001") and snapshot.equity == D("9999.001")
        assert snapshot.taken_at == AT
    assert reconcile(engine, p.id) == []


def test_same_client_order_id_fills_once(engine: Engine) -> None:
    p = create_portfolio(engine, "alpha", D(10000))
    first = execute_order(engine, p.id, buy(), client_order_id="dup", price=D(100000), at=AT)
    again = execute_order(engine, p.id, buy("5"), client_order_id="dup", price=D(90000), at=AT)
    assert again == first
    assert count(engine, Trade) == 1


def test_ledger_executor_uses_the_run_id(engine: Engine) -> None:
    p = create_portfolio(engine, "alpha", D(10000))
    executor = LedgerExecutor(engine, p.id)
    fill = executor.execute(buy(), run_id="r-1", price=D(50000), at=AT)
    assert fill is not None and fill.client_order_id == "run:r-1"
    assert executor.execute(buy(), run_id="r-1", price=D(50000), at=AT) == fill
    with session_scope(engine) as session:
        assert session.scalars(select(Trade.run_id)).all() == ["r-1"]


def test_bar_exits_fill_once_and_reconcile(engine: Engine) -> None:
    p = create_portfolio(engine, "alpha", D(10000), risk=OPEN_LIMITS)
    entry = execute_order(
        engine,
        p.id,
        buy("10", stop_loss=D(95000), take_profit=D(110000)),
        client_order_id="e",
        price=D(100000),
        at=AT,
        broker=NO_SLIP,
    )
    assert entry is not None
    quiet = Bar(open=D(100000), high=D(104000), low=D(96000), close=D(101000))
    assert apply_bar_exits(engine, p.id, "BTCUSDT", quiet, at=AT, broker=NO_SLIP) is None
    hit = Bar(open=D(100000), high=D(111000), low=D(94000), close=D(96000))
    later = AT + timedelta(hours=1)
    exit_fill = apply_bar_exits(engine, p.id, "BTCUSDT", hit, at=later, broker=NO_SLIP)
    assert exit_fill is not None
    assert (exit_fill.reason, exit_fill.price) == ("stop_loss", D(95000))
    assert exit_fill.client_order_id == f"sl:{entry.trade_id}"
    # replaying the bar: the position is gone, nothing more is sold
    assert apply_bar_exits(engine, p.id, "BTCUSDT", hit, at=later, broker=NO_SLIP) is None
    assert count(engine, Trade) == 2
    state = load_state(engine, p.id)
    assert state.positions == {}
    # 0.00999 × (95000 − 100000) = −49.95
    assert state.realized_pnl == D("-49.95")
    assert reconcile(engine, p.id) == []


def test_snapshot_on_demand_and_reconcile_detects_tampering(engine: Engine) -> None:
    p = create_portfolio(engine, "alpha", D(10000))
    execute_order(engine, p.id, buy(), client_order_id="a", price=D(100000), at=AT)
    snap = take_snapshot(engine, p.id, {"BTCUSDT": D(120000)}, at=AT + timedelta(minutes=5))
    assert snap.reason == "manual" and snap.unrealized_pnl > 0
    assert count(engine, PortfolioSnapshot) == 2
    assert reconcile(engine, p.id) == []
    with session_scope(engine) as session:
        session.execute(update(Position).values(quantity=D("1")))
    found = reconcile(engine, p.id)
    assert [d.what for d in found] == ["position BTCUSDT"]
    with pytest.raises(ReconcileError, match="1 discrepancies"):
        reconcile(engine, p.id, strict=True)
    with session_scope(engine) as session:
        session.execute(update(PortfolioSnapshot).values(cash=D(1)))
    assert [d.what for d in reconcile(engine, p.id)] == ["position BTCUSDT", "snapshot cash"]


BAD_ORDERS = [
    ("stop-above-entry", buy(stop_loss=D(100001)), D(100000), LedgerError, "stop_loss"),
    (
        "oversell",
        OrderRequest(symbol="BTCUSDT", side="sell", quantity=D("0.1")),
        D(100000),
        InsufficientPositionError,
        "quantity",
    ),
    (
        "min-notional",
        OrderRequest(symbol="BTCUSDT", side="buy", quantity=D("0.00001")),
        D(100000),
        OrderRejected,
        "quantity",
    ),
    ("float-price", buy(), 100000.0, LedgerError, "price"),
    ("negative-price", buy(), D(-5), LedgerError, "price"),
]


def test_bad_orders_write_nothing(engine: Engine) -> None:
    # One database for all cases: each must leave it exactly as empty as it found it.
    p = create_portfolio(engine, "alpha", D(10000))
    for case, order, price, error, field in BAD_ORDERS:
        with pytest.raises(error, match=field) as info:
            execute_order(engine, p.id, order, client_order_id="bad", price=price, at=AT)  # type: ignore[arg-type]
        assert getattr(info.value, "field", None) == field, case
        written = (count(engine, Trade), count(engine, Position), count(engine, PortfolioSnapshot))
        assert written == (0, 0, 0), case


def test_unknown_portfolio(engine: Engine) -> None:
    with pytest.raises(UnknownPortfolioError, match="portfolio_id"):
        execute_order(engine, 999, buy(), client_order_id="x", price=D(1), at=AT)


BAD_PORTFOLIOS: list[tuple[object, dict[str, object] | None, str]] = [
    (D(-1), None, "starting_cash"),
    (D(0), None, "starting_cash"),
    (1000.0, None, "starting_cash"),
    (D(1000), {"max_position_pct": 150}, "risk.max_position_pct"),
    (D(1000), {"surprise": 1}, "risk.surprise"),
]


def test_bad_portfolios_are_refused(engine: Engine) -> None:
    for cash, risk, field in BAD_PORTFOLIOS:
        with pytest.raises(PortfolioError, match=field):
            create_portfolio(engine, "bad", cash, risk=risk)  # type: ignore[arg-type]
    assert count(engine, Portfolio) == 0


def test_stored_risk_is_validated_on_read(engine: Engine) -> None:
    p = create_portfolio(engine, "alpha", D(10000))
    with session_scope(engine) as session:
        session.execute(update(Portfolio).values(risk={"max_position_pct": -3}))
    with pytest.raises(PortfolioError, match=r"risk\.max_position_pct"):
        get_portfolio(engine, p.id)
    with pytest.raises(PortfolioError, match=r"risk\.max_position_pct"):
        execute_order(engine, p.id, buy(), client_order_id="x", price=D(1), at=AT)


def test_default_portfolio_is_created_once_under_a_race(engine: Engine) -> None:
    settings = Settings(default_portfolio_name="house", default_starting_cash=D(2500))
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(ensure_default_portfolio(engine, settings).id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and count(engine, Portfolio) == 1
    assert get_portfolio(engine, results[0]).starting_cash == D(2500)


def test_mark_prices_prefer_the_latest_candle(engine: Engine) -> None:
    with session_scope(engine) as session:
        for open_time, close in ((1_000, 1.5), (2_000, 2.25)):
            session.add(
                Candle(
                    symbol="ETHUSDT",
                    interval="1h",
                    open_time=open_time,
                    open=1,
                    high=3,
                    low=1,
                    close=close,
                    volume=1,
                    source="import",
                )
            )
    marks = mark_prices(engine, ["ETHUSDT", "BTCUSDT"], {"BTCUSDT": D(7)})
    assert (marks["ETHUSDT"].price, marks["ETHUSDT"].source) == (D("2.25"), "candle")
    assert (marks["BTCUSDT"].price, marks["BTCUSDT"].source) == (D(7), "last_fill")
    # A synthetic portfolio is never marked with the real candles.
    play = mark_prices(engine, ["ETHUSDT"], {"ETHUSDT": D(3)}, "synthetic")
    assert (play["ETHUSDT"].price, play["ETHUSDT"].source) == (D(3), "last_fill")
    with pytest.raises(PortfolioError, match="SOLUSDT"):
        mark_prices(engine, ["SOLUSDT"], {})


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(orders=order_sequences(max_size=8))
def test_ledger_fold_equals_the_in_memory_fold(
    engine: Engine, orders: list[tuple[OrderRequest, D]]
) -> None:
    broker = SimulatedBroker(BrokerConfig(slippage_bps=D(5)))
    with session_scope(engine) as session:
        n = int(session.scalar(select(func.count()).select_from(Portfolio)) or 0)
    p = create_portfolio(engine, f"prop-{n}", D(10000), risk=OPEN_LIMITS)
    for i, (order, price) in enumerate(orders):
        try:
            execute_order(
                engine,
                p.id,
                order,
                client_order_id=f"o{i}",
                price=price,
                at=AT + timedelta(minutes=i),
                broker=broker,
            )
        except ValueError:
            continue
    expected, fills = simulate(D(10000), orders, broker)
    state = load_state(engine, p.id)
    assert state.market == "real"  # the portfolio's market kind; the fold is the same
    assert state.model_dump(exclude={"market"}) == expected.model_dump(exclude={"market"})
    with session_scope(engine) as session:
        stored = session.scalars(select(Trade).where(Trade.portfolio_id == p.id).order_by(Trade.id))
        assert [(t.side, t.quantity, t.price, t.fee) for t in stored] == [
            (f.side, f.quantity, f.price, f.fee) for f in fills
        ]
    assert reconcile(engine, p.id) == []
