"""A rules-engine replay session over real BTC and ETH 1h history: it trades, respects every
limit at every bar, reconciles, decides each (symbol, bar) exactly once and equals the
backtest of its watchlist to the cent; a single-symbol session equals `run_engine`'s backtest
of the same bars to the cent (the parity report says so, and names a difference when there
is one)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import RealDb
from session_helpers import check_bars, check_limits, check_stream, run, session_trades, utc
from sqlalchemy import update

from persistence.ledger import reconcile
from persistence.models import SessionTick
from sessions import service
from sessions.parity import parity_report
from sessions.schemas import SessionSpec

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

START, UNTIL = "2023-06-01", "2023-06-25"  # 576 real 1h bars


def test_two_symbol_replay_trades_within_limits_and_reconciles(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["BTCUSDT", "ETHUSDT"], replay_from=utc(START), until=utc(UNTIL), rules=True
    )
    sid = service.create_session(real_db.engine, spec, settings=real_db.settings)
    assert run(real_db.engine, sid, real_db.settings) == "completed"

    view = service.get_session(real_db.engine, sid)
    assert view.status == "completed" and view.error is None
    ticks = check_bars(real_db.engine, sid, ["BTCUSDT", "ETHUSDT"], utc(START))
    assert len(ticks) == view.bars_processed == 576
    assert view.decisions == 2 * 575
    trades = session_trades(real_db.engine, sid)
    assert {t.symbol for t in trades} == {"BTCUSDT", "ETHUSDT"}
    assert view.trades == len(trades) > 10
    checked = check_limits(real_db.engine, sid, view.portfolio_id)
    assert checked["buys"] > 5 and checked["bars"] == 576
    # The maxima shown never exceed what the limits allow at a fill (drift by price aside).
    assert view.maxima.min_cash_pct >= view.limits["min_cash_reserve_pct"] - 1.0
    assert view.maxima.max_drawdown_pct < view.limits["max_drawdown_pct"]
    assert reconcile(real_db.engine, view.portfolio_id) == []

    evs = check_stream(real_db.engine, sid, "completed")
    assert sum(e["type"] == "session_tick" for e in evs) == 576
    assert sum(e["type"] == "trade" for e in evs) == len(trades)
    filled = [d for d in service.decisions(real_db.engine, sid, limit=5000) if d.status == "filled"]
    assert len(filled) == sum(t.reason == "signal" for t in trades)
    assert all(d.trade_id is not None for d in filled)

    # ...and equals the backtest of its watchlist: the same engine of record walked straight
    # over the same bars into a scratch portfolio (`sessions.portfolio_backtest`).
    report = parity_report(real_db.engine, sid, settings=real_db.settings)
    assert report.differences == [] and report.identical, report.differences[:5]
    assert report.bars == 576 and report.equity_points_compared == 576
    assert report.decisions_compared == 2 * 575
    assert report.fills_compared == len(trades)
    assert abs(report.session_final_equity - report.backtest_final_equity) < 0.005


def test_single_symbol_session_equals_its_backtest_to_the_cent(real_db: RealDb) -> None:
    spec = SessionSpec(symbols=["BTCUSDT"], replay_from=utc(START), until=utc(UNTIL), rules=True)
    sid = service.create_session(real_db.engine, spec, settings=real_db.settings)
    assert run(real_db.engine, sid, real_db.settings) == "completed"

    report = parity_report(real_db.engine, sid, settings=real_db.settings)
    assert report.differences == [] and report.identical, report.differences[:5]
    assert report.bars == 576 and report.equity_points_compared == 576
    assert report.decisions_compared == 575
    assert report.fills_compared == len(session_trades(real_db.engine, sid)) > 10
    assert abs(report.session_final_equity - report.backtest_final_equity) < 0.005

    # The report is no rubber stamp: one cent off at one bar is named, with the bar.
    tampered = check_bars(real_db.engine, sid, ["BTCUSDT"], utc(START))[300]
    with real_db.engine.begin() as conn:
        conn.execute(
            update(SessionTick)
            .where(SessionTick.session_id == sid, SessionTick.bar_ms == tampered)
            .values(equity=SessionTick.equity + Decimal("0.01"))
        )
    report = parity_report(real_db.engine, sid, settings=real_db.settings)
    assert not report.identical
    assert [(d.what, int(d.at.timestamp() * 1000)) for d in report.differences] == [
        ("equity", tampered)
    ]
