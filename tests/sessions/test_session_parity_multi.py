"""Parity of a watchlist (BTCUSDT + ETHUSDT, one shared portfolio, real 1h bars): the report
names the symbol, the bar and both sides of every difference — a fill one cent off, a tick one
cent off, a changed decision, the orders a session let expire — and the reference backtest
runs on a scratch database: the session's database gains no portfolio, run, trade or row.
(The 576-bar acceptance run is `test_session_replay.py`.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import RealDb
from session_helpers import check_bars, run, session_trades, utc
from sqlalchemy import Engine, func, select, update

from persistence.models import Portfolio, Run, SessionBar, SessionTick, Trade
from sessions import service
from sessions.parity import parity_report
from sessions.schemas import SessionSpec

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

START, UNTIL = "2023-06-01", "2023-06-05"  # 96 real 1h bars, ~18 fills with exits
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (Portfolio, Run, Trade, SessionBar, SessionTick)
        )


def _ms(at: object) -> int:
    return int(at.timestamp() * 1000)  # type: ignore[attr-defined]


def _session(real_db: RealDb, **options: Any) -> str:
    spec = SessionSpec(
        symbols=SYMBOLS, replay_from=utc(START), until=utc(UNTIL), rules=True, **options
    )
    sid = service.create_session(real_db.engine, spec, settings=real_db.settings)
    assert run(real_db.engine, sid, real_db.settings) == "completed"
    return sid


def test_each_tampered_fill_tick_and_decision_is_named(real_db: RealDb) -> None:
    db = real_db.engine
    sid = _session(real_db)
    trades = session_trades(db, sid)
    assert {t.symbol for t in trades} == set(SYMBOLS)
    assert {t.reason for t in trades} >= {"signal", "stop_loss", "take_profit"}

    before = _counts(db)
    report = parity_report(db, sid, settings=real_db.settings)
    assert _counts(db) == before, "the reference backtest wrote into the session's database"
    assert report.identical and report.differences == [], report.differences[:5]
    assert report.bars == 96 and report.equity_points_compared == 96
    assert report.decisions_compared == 2 * 95
    assert report.fills_compared == len(trades)

    ticks = check_bars(db, sid, SYMBOLS, utc(START))
    eth = next(t for t in trades if t.symbol == "ETHUSDT" and t.reason == "take_profit")
    held = [
        r
        for r in service.decisions(db, sid, symbol="BTCUSDT", limit=500)
        if r.action == "hold" and _ms(r.bar_time) > ticks[50]
    ]
    changed = _ms(held[-1].bar_time)
    with db.begin() as conn:
        conn.execute(
            update(Trade).where(Trade.id == eth.id).values(price=eth.price + Decimal("0.01"))
        )
        conn.execute(
            update(SessionTick)
            .where(SessionTick.session_id == sid, SessionTick.bar_ms == ticks[20])
            .values(equity=SessionTick.equity - Decimal("0.01"))
        )
        conn.execute(
            update(SessionBar)
            .where(
                SessionBar.session_id == sid,
                SessionBar.symbol == "BTCUSDT",
                SessionBar.bar_ms == changed,
            )
            .values(size_pct=1.0)
        )
    report = parity_report(db, sid, settings=real_db.settings)
    assert not report.identical
    named = sorted((d.what, d.symbol or "", _ms(d.at)) for d in report.differences)
    assert named == sorted(
        [
            ("fill", "ETHUSDT", _ms(eth.executed_at)),
            ("equity", "", ticks[20]),
            ("decision", "BTCUSDT", changed),
        ]
    )
    by_what = {d.what: d for d in report.differences}
    assert f"@ {eth.price + Decimal('0.01'):.2f}" in by_what["fill"].session
    assert f"@ {eth.price:.2f}" in by_what["fill"].backtest
    assert "size=1.0000%" in by_what["decision"].session
    assert "size=0.0000%" in by_what["decision"].backtest


def test_a_session_whose_orders_expired_unanswered_differs_and_says_why(
    real_db: RealDb,
) -> None:
    """Approval `require` and nobody answers: every order expires, the session never trades,
    while its backtest (which never waits) does: each missing fill is named, and the note
    says why."""
    db = real_db.engine
    sid = _session(real_db, approval="require", approval_timeout_bars=1)
    assert session_trades(db, sid) == []
    report = parity_report(db, sid, settings=real_db.settings)
    assert not report.identical and report.fills_compared == 0
    missing = [d for d in report.differences if d.what == "fill"]
    assert missing and all(d.session == "no fill" for d in missing)
    assert {d.symbol for d in missing} == set(SYMBOLS)
    assert any(d.what == "equity" for d in report.differences)
    assert report.decisions_compared == 2 * 95
    # The first difference is the first order that never filled; the desk then sees another
    # account, so later decisions may differ too (each named).
    first = min(report.differences, key=lambda d: (d.at, d.what != "fill"))
    assert first.what == "fill" and first.session == "no fill"
    assert all(d.at >= first.at for d in report.differences if d.what == "decision")
    assert "approval `require`" in report.notes[0]
