"""A replay session's portfolio is valued on the session's clock: at prices closed by the last
processed bar, never at the newest stored candle (years later), in the API and the CLI alike;
its equity there equals the session's own last tick to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from conftest import RealDb
from session_helpers import run, utc

from api.routes.portfolio import _detail
from persistence.ledger import value_portfolio
from persistence.sessions import last_tick, replay_clock
from sessions import service
from sessions.schemas import SessionSpec

pytestmark = [pytest.mark.realdata]

UNTIL = utc("2023-06-04")


def test_replay_portfolio_is_valued_at_the_session_clock(real_db: RealDb) -> None:
    engine = real_db.engine
    spec = SessionSpec(
        symbols=["BTCUSDT", "ETHUSDT"],
        replay_from=utc("2023-06-01"),
        until=UNTIL,
        rules=True,
    )
    sid = service.create_session(engine, spec, settings=real_db.settings)
    pid = service.get_session(engine, sid).portfolio_id
    assert replay_clock(engine, pid) is None  # nothing processed yet: wall time
    assert run(engine, sid, real_db.settings) == "completed"

    tick = last_tick(engine, sid)
    assert tick is not None
    clock = replay_clock(engine, pid)
    assert clock == UNTIL  # the close of the last processed bar (opened an hour before)
    assert clock == datetime.fromtimestamp(tick.bar_ms / 1000, UTC) + timedelta(hours=1)

    at_clock = value_portfolio(engine, pid, as_of=clock)
    assert at_clock.state.positions, "the test needs a position held at the end"
    assert abs(at_clock.valuation.equity - Decimal(tick.equity)) < Decimal("0.005")
    latest = value_portfolio(engine, pid)  # the newest stored candles (2024): another number
    assert latest.valuation.equity != at_clock.valuation.equity

    detail = _detail(engine, pid)
    assert detail.valued_at == clock
    assert detail.equity == at_clock.valuation.equity
