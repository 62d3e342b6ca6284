"""Parity of a watchlist: a two-symbol rules replay over 576 real 1h bars of BTCUSDT and
ETHUSDT (one shared portfolio) equals the backtest of the same bars — decisions, fills and
equity at every bar to the cent — and the report names the symbol, the bar and both sides of
any difference: a fill one cent off, a tick one cent off, a decision changed. The reference
runs on a scratch database: the session's database gains no portfolio, run or trade."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import RealDb
from session_helpers import check_bars, run, session_trades, utc
from sqlalchemy import Engine, func, select, update

from persistence.models import Portfolio, Run, SessionBar, SessionTick, Trade
from sessions import service
from sessions.parity import parity_report
from sessions.schemas import SessionSpec

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

START, UNTIL = "2023-06-01", "2023-06-25"  # 576 real 1h bars
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (Portfolio, Run, Trade, SessionBar, SessionTick)
        )


def _at_ms(d: object) -> int:
    return int(d.at.timestamp() * 1000)  # type: ignore[attr-defined]


def test_two_symbol_session_equals_the_backtest_of_its_watchlist(real_db: RealDb) -> None:
    db = real_db.engine
    spec = SessionSpec(symbols=SYMBOLS, replay_from=utc(START), until=utc(UNTIL), rules=True)
    sid = service.create_session(db, spec, settings=real_db.settings)
    assert run(db, sid, real_db.settings) == "completed"
    trades = session_trades(db, sid)
    assert {t.symbol for t in trades} == set(SYMBOLS)

    before = _counts(db)
    report = parity_report(db, sid, settings=real_db.settings)
    assert _counts(db) == before, "the reference backtest wrote into the session's database"
    assert report.differences == [] and report.identical, report.differences[:5]
    assert report.bars == 576 and report.equity_points_compared == 576
    assert report.decisions_compared == 2 * 575
    assert report.fills_compared == len(trades) > 10
    assert abs(report.session_final_equity - report.backtest_final_equity) < 0.005
    assert report.notes == []

    # One ETH fill one cent dearer: named, with its symbol and time, and nothing else.
    eth = next(t for t in trades if t.symbol == "ETHUSDT" and t.side == "buy")
    with db.begin() as conn:
        conn.execute(
            update(Trade).where(Trade.id == eth.id).values(price=eth.price + Decimal("0.01"))
        )
    report = parity_report(db, sid, settings=real_db.settings)
    assert not report.identical
    [diff] = report.differences
    assert (diff.what, diff.symbol, diff.at) == ("fill", "ETHUSDT", eth.executed_at)
    assert f"@ {eth.price + Decimal('0.01'):.2f}" in diff.session
    assert f"@ {eth.price:.2f}" in diff.backtest
    with db.begin() as conn:
        conn.execute(update(Trade).where(Trade.id == eth.id).values(price=eth.price))

    # One tick a cent richer and one BTC decision changed: both named, at their bars.
    ticks = check_bars(db, sid, SYMBOLS, utc(START))
    tampered_tick = ticks[400]
    btc = next(
        r
        for r in service.decisions(db, sid, symbol="BTCUSDT", limit=5000)
        if r.action == "hold" and int(r.bar_time.timestamp() * 1000) == ticks[100]
    )
    with db.begin() as conn:
        conn.execute(
            update(SessionTick)
            .where(SessionTick.session_id == sid, SessionTick.bar_ms == tampered_tick)
            .values(equity=SessionTick.equity + Decimal("0.01"))
        )
        conn.execute(
            update(SessionBar)
            .where(
                SessionBar.session_id == sid,
                SessionBar.symbol == "BTCUSDT",
                SessionBar.bar_ms == ticks[100],
            )
            .values(action="sell")
        )
    report = parity_report(db, sid, settings=real_db.settings)
    assert not report.identical
    assert [(d.what, d.symbol, _at_ms(d)) for d in report.differences] == [
        ("decision", "BTCUSDT", ticks[100]),
        ("equity", None, tampered_tick),
    ]
    assert report.differences[0].session.startswith("sell ")
    assert report.differences[0].backtest.startswith("hold ")
    assert btc.action == "hold"
