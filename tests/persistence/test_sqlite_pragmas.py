"""SQLite engines from `make_engine` run in WAL mode with foreign keys enforced.

SQLite's defaults are the opposite (rollback journal, foreign keys ignored), so these checks
fail as soon as the connect-time pragmas in persistence/db.py stop being applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from persistence.db import session_scope
from persistence.models import Portfolio, Trade


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()


def _trade(portfolio_id: int) -> Trade:
    return Trade(
        portfolio_id=portfolio_id,
        client_order_id="t1",
        symbol="BTCUSDT",
        side="buy",
        quantity=Decimal(1),
        price=Decimal(1),
        fee=Decimal(0),
        slippage_bps=Decimal(0),
        reason="signal",
        executed_at=datetime.now(UTC),
    )


def test_every_connection_is_in_wal_mode_with_foreign_keys_on(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as first, sqlite_engine.connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000


def test_a_plain_sqlite_connection_differs_so_the_check_is_meaningful(
    sqlite_empty_url: str,
) -> None:
    from sqlalchemy import create_engine

    plain = create_engine(sqlite_empty_url)
    try:
        assert _pragma(plain, "foreign_keys") == 0
        assert _pragma(plain, "journal_mode") != "wal"
    finally:
        plain.dispose()


def test_foreign_keys_are_enforced(sqlite_engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), session_scope(sqlite_engine) as s:
        s.add(_trade(portfolio_id=999))


def test_deleting_a_portfolio_cascades_to_its_trades(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as s:
        portfolio = Portfolio(name="p", starting_cash=Decimal(100), risk={})
        s.add(portfolio)
        s.flush()
        s.add(_trade(portfolio_id=portfolio.id))
    with sqlite_engine.begin() as conn:
        conn.execute(text("DELETE FROM portfolios"))
        assert conn.execute(text("SELECT count(*) FROM trades")).scalar_one() == 0
