"""What `sessions.service` refuses up front (naming the field), and a session that cannot
trade its portfolio's market failing visibly with the reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from conftest import RealDb
from session_helpers import check_stream, run, utc
from sqlalchemy import update

from persistence.models import Portfolio
from persistence.portfolios import UnknownPortfolioError, create_portfolio
from sessions import service
from sessions.schemas import SessionSpec
from tools.errors import FieldValueError

pytestmark = [pytest.mark.realdata]


def test_refused_up_front_naming_the_field(real_db: RealDb) -> None:
    db, s = real_db.engine, real_db.settings
    with pytest.raises(FieldValueError) as no_warmup:
        service.create_session(
            db, SessionSpec(symbols=["BTCUSDT"], replay_from=utc("2023-01-03")), settings=s
        )
    assert no_warmup.value.field == "replay_from" and "warm-up" in no_warmup.value.message
    with pytest.raises(FieldValueError) as unknown_symbol:
        service.create_session(
            db, SessionSpec(symbols=["SOLUSDT"], replay_from=utc("2023-06-01")), settings=s
        )
    assert unknown_symbol.value.field == "replay_from" and "SOLUSDT" in unknown_symbol.value.message
    with pytest.raises(UnknownPortfolioError) as no_portfolio:
        service.create_session(
            db,
            SessionSpec(symbols=["BTCUSDT"], replay_from=utc("2023-06-01"), portfolio_id=999),
            settings=s,
        )
    assert no_portfolio.value.field == "portfolio_id"
    synthetic = create_portfolio(db, "synth", Decimal(1000), kind="synthetic")
    with pytest.raises(FieldValueError) as other_market:
        service.create_session(
            db,
            SessionSpec(
                symbols=["BTCUSDT"], replay_from=utc("2023-06-01"), portfolio_id=synthetic.id
            ),
            settings=s,
        )
    assert (
        other_market.value.field == "portfolio_id" and "never trades" in other_market.value.message
    )
    named = SessionSpec(symbols=["BTCUSDT"], replay_from=utc("2023-06-01"), name="synth")
    with pytest.raises(FieldValueError) as taken:
        service.create_session(db, named, settings=s)
    assert taken.value.field == "name"
    with pytest.raises(LookupError):
        service.get_session(db, "no-such-session")
    assert service.list_sessions(db) == []


def test_a_portfolio_of_the_other_market_fails_the_session_with_the_reason(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["BTCUSDT"], replay_from=utc("2023-06-01"), until=utc("2023-06-02"), rules=True
    )
    sid = service.create_session(real_db.engine, spec, settings=real_db.settings)
    view = service.get_session(real_db.engine, sid)
    with real_db.engine.begin() as conn:  # the portfolio changed market behind the session's back
        conn.execute(
            update(Portfolio).where(Portfolio.id == view.portfolio_id).values(kind="synthetic")
        )
    assert run(real_db.engine, sid, real_db.settings) == "failed"
    view = service.get_session(real_db.engine, sid)
    assert view.status == "failed" and view.error is not None
    assert "never trades" in view.error and view.bars_processed == 0
    evs = check_stream(real_db.engine, sid, "failed")
    assert any(e["type"] == "error" and "never trades" in e["message"] for e in evs)


def test_view_answers_what_it_is_doing(real_db: RealDb) -> None:
    spec = SessionSpec(
        symbols=["ETHUSDT"], replay_from=utc("2023-06-01"), until=utc("2023-06-02"), rules=True
    )
    sid = service.create_session(real_db.engine, spec, settings=real_db.settings)
    assert run(real_db.engine, sid, real_db.settings) == "completed"
    view = service.get_session(real_db.engine, sid)
    assert view.bars_processed == 24 and view.now == utc("2023-06-02")
    assert view.equity is not None and view.starting_cash == 10_000
    assert view.symbols_state[0].last_bar == utc("2023-06-01") + timedelta(hours=22)
    curve = service.ticks(real_db.engine, sid)
    assert len(curve) == 24 and curve[0][0] == utc("2023-06-01")
    assert [v.id for v in service.list_sessions(real_db.engine)] == [sid]
    assert len(service.decisions(real_db.engine, sid, limit=5)) == 5
