"""Property: no path through the source chain produces a synthetic candle unless asked.

Over missing, partial and complete stores, windowed and newest-N reads, resampled intervals,
backtest histories with and without clip, in store mode and in live mode with Binance down:
every answer is either an error naming what is missing or candles that are all stored ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from core.settings import Settings
from persistence.candles import SqlCandleStore, store_candles
from persistence.models import Base
from tools.history import ensure_history
from tools.market_data import MissingDataError, load_candles

HOUR = 3_600_000
JAN = datetime(2024, 1, 1, tzinfo=UTC)
JAN_MS = int(JAN.timestamp() * 1000)
STORED_BARS = 600
MODES = {
    "store": Settings(data_source="store", _env_file=None),  # type: ignore[arg-type]
    "live-down": Settings(
        data_source="live",
        binance_base_url="http://127.0.0.1:9",
        binance_max_retries=0,
        _env_file=None,
    ),  # type: ignore[arg-type]
}
_names = (f"P{i:04d}USDT" for i in itertools.count())


@pytest.fixture(scope="module")
def memory_engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def stock(engine: Engine, symbol: str, coverage: str, offset_h: int) -> set[float]:
    """Store 1h candles per `coverage`; returns every stored close (all distinct)."""
    if coverage == "missing":
        return set()
    bars = STORED_BARS if coverage == "complete" else STORED_BARS // 3
    times = JAN_MS + HOUR * (offset_h + np.arange(bars, dtype="int64"))
    close = 1_000.0 + np.arange(bars, dtype="float64")
    frame = pd.DataFrame(
        {
            "open_time": times,
            "open": close - 0.5,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 1.0,
        }
    )
    store_candles(engine, symbol, "1h", frame, source="import")
    return set(close.tolist())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    coverage=st.sampled_from(["missing", "partial", "complete"]),
    offset_h=st.integers(min_value=0, max_value=400),
    interval=st.sampled_from(["1h", "2h", "4h"]),
    request=st.sampled_from(["window", "newest", "history", "history-clip"]),
    mode=st.sampled_from(sorted(MODES)),
    window_start_h=st.integers(min_value=-100, max_value=700),
    window_hours=st.integers(min_value=8, max_value=400),
)
def test_no_synthetic_candle_unless_asked(
    memory_engine: Engine,
    coverage: str,
    offset_h: int,
    interval: str,
    request: str,
    mode: str,
    window_start_h: int,
    window_hours: int,
) -> None:
    symbol = next(_names)
    closes = stock(memory_engine, symbol, coverage, offset_h)
    store = SqlCandleStore(memory_engine)
    start = JAN + timedelta(hours=window_start_h)
    end = start + timedelta(hours=window_hours)
    cfg = MODES[mode]
    try:
        if request == "window":
            series = load_candles(symbol, interval, start=start, end=end, store=store, settings=cfg)
        elif request == "newest":
            series = load_candles(symbol, interval, limit=50, store=store, settings=cfg)
        else:
            series = ensure_history(
                symbol,
                interval,
                start,
                end,
                warmup_bars=20,
                store=store,
                settings=cfg,
                clip=request == "history-clip",
            ).series
    except MissingDataError:
        return  # an error naming what is missing: fine, never invented data
    except ValueError as exc:
        assert "not before end" in str(exc)  # an empty window is bad input, also fine
        return
    assert coverage != "missing"
    assert series.source in {"store", "store-resampled"}
    assert (series.source == "store-resampled") == (interval != "1h")
    assert len(series) > 0
    assert set(series.frame["close"].tolist()) <= closes  # every candle is a stored one


def test_synthetic_only_when_asked(memory_engine: Engine) -> None:
    store = SqlCandleStore(memory_engine)
    asked = load_candles(
        "ASKEDUSDT", "1h", limit=20, store=store, settings=MODES["store"], synthetic=True
    )
    assert asked.source == "synthetic"
    with pytest.raises(MissingDataError):
        load_candles("ASKEDUSDT", "1h", limit=20, store=store, settings=MODES["store"])
