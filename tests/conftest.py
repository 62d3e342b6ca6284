"""Fixtures shared by every test: databases (SQLite and the real Postgres) and the real data.

Postgres tests use a fresh throw-away database on 127.0.0.1:5432. Without a server they skip
with the reason shown; under `CI=true` a missing server is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.settings import Settings
from persistence.db import make_engine, upgrade

PG_ADMIN_DSN = os.environ.get("CRYPTOFIRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# REAL_DATA_DIR overrides it, as for the demo and `make bench`.
REAL_DATA_DIR = Settings().real_data_dir
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: Postgres tests must run, not skip)")
    pytest.skip(reason)


def _pg_admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"no Postgres at {PG_ADMIN_DSN}: {exc}".splitlines()[0])


def _pg_url_for(dbname: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def pg_admin_dsn() -> str:
    """The Postgres to create test databases on (CRYPTOFIRM_TEST_PG), for tests that must act
    on a test database from outside it."""
    return PG_ADMIN_DSN


@pytest.fixture
def pg_empty_url() -> Iterator[str]:
    """URL of a brand-new, empty Postgres database, dropped afterwards."""
    admin = _pg_admin_connect()
    name = f"cryptofirm_t_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url_for(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def sqlite_empty_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cryptofirm.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend."""
    fixture = "sqlite_empty_url" if request.param == "sqlite" else "pg_empty_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A migrated database on each backend."""
    upgrade(empty_db_url)
    return empty_db_url


def _disposed_after(url: str) -> Iterator[Engine]:
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    yield from _disposed_after(db_url)


@pytest.fixture
def sqlite_engine(sqlite_empty_url: str) -> Iterator[Engine]:
    """A migrated SQLite engine, for tests that do not care about the backend."""
    upgrade(sqlite_empty_url)
    yield from _disposed_after(sqlite_empty_url)


@pytest.fixture
def pg_engine(pg_empty_url: str) -> Iterator[Engine]:
    """A migrated engine on the real Postgres."""
    upgrade(pg_empty_url)
    yield from _disposed_after(pg_empty_url)


def _missing_real_data(reason: str) -> None:
    """Locally a missing data set skips its tests with the reason; in CI it is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: real-data tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA_DIR.is_dir():
        _missing_real_data(f"real market data not found at {REAL_DATA_DIR}")
    return REAL_DATA_DIR


@pytest.fixture(scope="session")
def real_btc_1h(real_data_dir: Path) -> Path:
    path = real_data_dir / "NIC-project-team__TradingStrategyGA" / "BTC_USDT-1h.feather"
    if not path.is_file():
        _missing_real_data(f"real BTC 1h file missing: {path}")
    return path


REAL_PAIRS = {"BTCUSDT": "BTC_USDT-1h.feather", "ETHUSDT": "ETH_USDT-1h.feather"}
"""The real 1h candles of both watchlist symbols (daisybum__cryptoTradingBot, to 2024)."""


@pytest.fixture(scope="session")
def real_pairs_template(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the real BTCUSDT and ETHUSDT 1h candles, built once per
    test session; tests copy it (trading sessions, their API and CLI)."""
    from persistence.candles import SqlCandleStore
    from persistence.db import init_db
    from tools.importers import import_file

    path = tmp_path_factory.mktemp("real-pairs") / "template.db"
    engine = init_db(f"sqlite:///{path}")
    for name in REAL_PAIRS.values():
        candles = real_data_dir / "daisybum__cryptoTradingBot" / name
        if not candles.is_file():
            _missing_real_data(f"real candles missing: {candles}")
        assert import_file(SqlCandleStore(engine), candles).rows_new > 8000
    engine.dispose()
    return path
