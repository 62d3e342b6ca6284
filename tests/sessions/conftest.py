"""Fixtures of the trading-session tests: a SQLite database holding the real BTC and ETH 1h
candles (imported once per test session, copied per test) and its settings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from session_helpers import import_real, settings_for
from sqlalchemy import Engine

from core.settings import Settings
from persistence.db import make_engine, upgrade


@dataclass
class RealDb:
    url: str
    engine: Engine
    settings: Settings


@pytest.fixture(scope="session")
def real_sqlite_template(tmp_path_factory: pytest.TempPathFactory, real_data_dir: Path) -> Path:
    path = tmp_path_factory.mktemp("sessions-template") / "real.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    import_real(engine, real_data_dir)
    engine.dispose()
    return path


@pytest.fixture
def real_db(real_sqlite_template: Path, tmp_path: Path) -> Iterator[RealDb]:
    path = tmp_path / "session.db"
    shutil.copy(real_sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield RealDb(url, engine, settings_for(url, tmp_path))
    engine.dispose()
