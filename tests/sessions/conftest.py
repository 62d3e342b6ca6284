"""Fixtures of the trading-session tests: a SQLite database holding the real BTC and ETH 1h
candles (imported once per test session, copied per test) and its settings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from session_helpers import settings_for
from sqlalchemy import Engine

from core.settings import Settings
from persistence.db import make_engine


@dataclass
class RealDb:
    url: str
    engine: Engine
    settings: Settings


@pytest.fixture
def real_db(real_pairs_template: Path, tmp_path: Path) -> Iterator[RealDb]:
    path = tmp_path / "session.db"
    shutil.copy(real_pairs_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield RealDb(url, engine, settings_for(url, tmp_path))
    engine.dispose()
