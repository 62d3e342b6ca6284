"""Steering a running session (service level; the API tests drive the same calls over HTTP):
pause stops the clock and resume continues it, stop ends it `stopped`; approval `require`
holds a symbol's order until a human answers — approved fills at the next bar's open,
rejected never fills, unanswered expires after N bars — while the session goes on."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import RealDb
from session_helpers import check_stream, run, session_trades, utc, wait_for

from persistence import sessions as store
from sessions import service
from sessions.schemas import SessionSpec
from tools.errors import FieldValueError

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _start(db: RealDb, spec: SessionSpec) -> tuple[str, threading.Thread, list[object]]:
    sid = service.create_session(db.engine, spec, settings=db.settings)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(run(db.engine, sid, db.settings)))
    thread.start()
    return sid, thread, result


def _held(db: RealDb, sid: str) -> int:
    """Pause took hold: the tick count stops moving. Returns it."""
    wait_for(lambda: service.get_session(db.engine, sid).status == "paused", 10, "paused")
    before = -1
    while (now := store.tick_count(db.engine, sid)) != before:
        before = now
        time.sleep(0.4)
    return now


def test_pause_resume_stop(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["BTCUSDT"], replay_from=utc("2023-06-01"), speed=3600 * 20, rules=True
    )
    sid, thread, result = _start(real_db, spec)
    wait_for(lambda: store.tick_count(real_db.engine, sid) >= 3, 60, "first bars")
    service.pause(real_db.engine, sid)
    held = _held(real_db, sid)
    time.sleep(0.5)
    assert store.tick_count(real_db.engine, sid) == held
    with pytest.raises(FieldValueError, match="status"):
        service.resume(real_db.engine, sid) and service.resume(real_db.engine, sid)
    wait_for(lambda: store.tick_count(real_db.engine, sid) > held + 2, 60, "bars after resume")
    service.stop(real_db.engine, sid)
    thread.join(60)
    assert result == ["stopped"]
    view = service.get_session(real_db.engine, sid)
    assert view.status == "stopped" and view.bars_processed > held + 2
    evs = check_stream(real_db.engine, sid, "stopped")
    states = [e["status"] for e in evs if e["type"] == "session_state"]
    assert "paused" in states and "stopped" in states
    with pytest.raises(FieldValueError, match="status"):
        service.pause(real_db.engine, sid)


def test_stop_while_paused_ends_at_once(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["ETHUSDT"], replay_from=utc("2023-06-01"), speed=3600 * 20, rules=True
    )
    sid, thread, _result = _start(real_db, spec)
    wait_for(lambda: store.tick_count(real_db.engine, sid) >= 2, 60, "first bars")
    service.pause(real_db.engine, sid)
    _held(real_db, sid)
    assert service.stop(real_db.engine, sid).status == "stopped"
    thread.join(30)
    assert not thread.is_alive()
    check_stream(real_db.engine, sid, "stopped")


def _awaiting(db: RealDb, sid: str, after_ms: int = -1) -> store.BarRow | None:
    rows = store.decisions(db.engine, sid, statuses=("awaiting_approval",))
    return next((r for r in rows if r.bar_ms > after_ms), None)


def _coid(sid: str, row: store.BarRow) -> str:
    return f"session:{sid}:{row.symbol}:{row.bar_ms}"


def test_require_approval_holds_the_order_until_answered(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["BTCUSDT", "ETHUSDT"],
        replay_from=utc("2023-06-01"),
        until=utc("2023-06-08"),
        speed=3600 * 25,
        approval="require",
        approval_timeout_bars=40,
        rules=True,
    )
    sid, thread, result = _start(real_db, spec)
    answered: dict[str, store.BarRow] = {}
    for verdict in (True, False):
        after = max((r.bar_ms for r in answered.values()), default=-1)
        wait_for(lambda a=after: _awaiting(real_db, sid, a) is not None, 90, "an awaiting order")
        service.pause(real_db.engine, sid)
        held = _held(real_db, sid)
        row = _awaiting(real_db, sid, after)
        assert row is not None
        # Held: no fill for it although the session went on (other symbols, later bars).
        filled = {t.client_order_id for t in session_trades(real_db.engine, sid)}
        assert _coid(sid, row) not in filled
        assert store.ticks(real_db.engine, sid)[-1].bar_ms > row.bar_ms
        out = service.answer_approval(
            real_db.engine, sid, row.symbol, row.bar_time, verdict, "test"
        )
        assert out.status == ("decided" if verdict else "rejected")
        with pytest.raises(FieldValueError, match="bar_time"):
            service.answer_approval(real_db.engine, sid, row.symbol, row.bar_time, verdict)
        answered["approved" if verdict else "rejected"] = row
        service.resume(real_db.engine, sid)
        wait_for(lambda h=held: store.tick_count(real_db.engine, sid) > h, 30, "bars after resume")
    thread.join(120)
    assert result == ["completed"]

    trades = {t.client_order_id: t for t in session_trades(real_db.engine, sid)}
    ok, no = answered["approved"], answered["rejected"]
    final = {(r.symbol, r.bar_ms): r for r in store.decisions(real_db.engine, sid)}
    approved = final[(ok.symbol, ok.bar_ms)]
    assert approved.status in ("filled", "skipped") and approved.detail is not None
    if approved.status == "filled":  # a sell may find nothing left to sell: skipped, said why
        trade = trades[_coid(sid, ok)]
        assert approved.trade_id == trade.id and trade.executed_at > ok.bar_time
    assert final[(no.symbol, no.bar_ms)].status == "rejected" and _coid(sid, no) not in trades
    expired = [r for r in final.values() if r.status == "expired"]
    assert expired and all(_coid(sid, r) not in trades for r in expired)
    assert all(r.status != "awaiting_approval" for r in final.values())
    check_stream(real_db.engine, sid, "completed")


def test_unanswered_approvals_expire_after_n_bars(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["BTCUSDT", "ETHUSDT"],
        replay_from=utc("2023-06-01"),
        until=utc("2023-06-05"),
        approval="require",
        approval_timeout_bars=2,
        rules=True,
    )
    sid = service.create_session(real_db.engine, spec, settings=real_db.settings)
    assert run(real_db.engine, sid, real_db.settings) == "completed"
    rows = [r for r in store.decisions(real_db.engine, sid) if r.order_request is not None]
    assert rows and all(r.status == "expired" for r in rows)
    in_time = [r for r in rows if "within 2 bar" in (r.detail or "")]
    assert in_time, [r.detail for r in rows]
    assert session_trades(real_db.engine, sid) == []
    evs = check_stream(real_db.engine, sid, "completed")
    statuses = {e["status"] for e in evs if e["type"] == "session_decision"}
    assert statuses >= {"awaiting_approval", "expired"}
