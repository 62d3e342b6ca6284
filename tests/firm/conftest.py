"""Fixtures for the run queue on the real Postgres: a firm database with fresh uptrend candles
and the `cryptofirm` processes of a test (killed at its end)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from firm_helpers import FAST_WORKER, FirmDb, Processes, uptrend

from persistence.candles import store_candles
from persistence.db import make_engine, upgrade


@pytest.fixture
def firm_db(pg_empty_url: str, tmp_path: Path) -> Iterator[FirmDb]:
    from firm.jobs import ensure_queue_schema

    upgrade(pg_empty_url)
    engine = make_engine(pg_empty_url)
    store_candles(engine, "BTCUSDT", "1h", uptrend(), source="import")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "DATABASE_"))},
        "DATABASE_URL": pg_empty_url,
        "DATA_SOURCE": "store",
        "LLM_PROVIDER": "rules",
        "WEB_OUT_DIR": str(tmp_path / "no-web"),
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT_PER_MINUTE": "100000",
        # The tests' workers share the cores with other tests (pytest-xdist), not with API
        # replicas: at the default nice 10 a worker got a tenth of a core under that load.
        "WORKER_NICE": "0",
        **FAST_WORKER,
    }
    db = FirmDb(pg_empty_url, engine, env, tmp_path)
    ensure_queue_schema(db.settings())
    yield db
    engine.dispose()


@pytest.fixture
def processes(firm_db: FirmDb) -> Iterator[Processes]:
    procs = Processes(firm_db)
    yield procs
    procs.kill_all()
