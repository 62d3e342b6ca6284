"""Source chain: live → store → synthetic, with honest labels and logged fallbacks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from core.settings import Settings
from tools.candle_store import read_candles, store_candles
from tools.market_data import ensure_history, load_candles

HOUR = 3_600_000
JAN = datetime(2024, 1, 1, tzinfo=UTC)
JAN_MS = int(JAN.timestamp() * 1000)


def settings_for(mode: str, **extra: object) -> Settings:
    return Settings(data_source=mode, synthetic_seed=11, **extra)  # type: ignore[arg-type]


def seed_store(engine: Engine, bars: int = 1_000, source: str = "import") -> None:
    times = JAN_MS + HOUR * np.arange(bars, dtype="int64")
    frame = pd.DataFrame(
        {
            "open_time": times,
            "open": 100.0,
            "high": 102.0,
            "low": 99.0,
            "close": 101.0,
            "volume": 3.0,
        }
    )
    store_candles(engine, "BTCUSDT", "1h", frame, source=source)


def test_store_mode_reads_the_store(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    seed_store(sqlite_engine)
    series = load_candles(
        "btc/usdt",
        "1h",
        start=JAN,
        end=JAN + timedelta(hours=24),
        engine=sqlite_engine,
        settings=settings_for("store"),
    )
    assert (series.symbol, series.source, len(series)) == ("BTCUSDT", "store", 24)
    assert str(series.frame.index.tz) == "UTC"
    assert series.frame.index[0] == pd.Timestamp(JAN)
    assert list(series.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(series.frame.dtypes == "float64")
    newest = load_candles(
        "BTCUSDT", "1h", limit=5, engine=sqlite_engine, settings=settings_for("store")
    )
    assert newest.frame.index[-1] == pd.Timestamp(JAN + timedelta(hours=999))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_store_mode_falls_back_to_synthetic_with_a_warning(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tools.market_data"):
        series = load_candles(
            "ETHUSDT",
            "1h",
            start=JAN,
            end=JAN + timedelta(days=2),
            engine=sqlite_engine,
            settings=settings_for("store"),
        )
    assert series.source == "synthetic" and len(series) == 48
    assert any("falling back to synthetic" in r.getMessage() for r in caplog.records)
    assert 500 < series.frame["close"].iloc[-1] < 10_000  # ETH-like scale
    assert read_candles(sqlite_engine, "ETHUSDT", "1h").empty  # synthetic data is never stored


def test_synthetic_mode_is_deterministic_and_never_touches_the_store(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)
    args = {"start": JAN, "end": JAN + timedelta(hours=300), "settings": settings_for("synthetic")}
    a = load_candles("BTCUSDT", "1h", engine=sqlite_engine, **args)  # type: ignore[arg-type]
    b = load_candles("BTCUSDT", "1h", **args)  # type: ignore[arg-type]
    assert a.source == b.source == "synthetic"
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.frame["close"].iloc[0] != 101.0


def test_live_mode_fetches_stores_and_labels_binance(sqlite_engine: Engine, fake_binance) -> None:
    settings = settings_for("live", binance_base_url=fake_binance.base_url)
    series = load_candles(
        "BTCUSDT",
        "1h",
        start=JAN,
        end=JAN + timedelta(hours=1_500),
        engine=sqlite_engine,
        settings=settings,
    )
    assert series.source == "binance" and len(series) == 1_500
    assert len(read_candles(sqlite_engine, "BTCUSDT", "1h")) == 1_500


def test_live_mode_falls_back_to_store_then_synthetic(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on this port: every attempt is a connection error.
    settings = settings_for("live", binance_base_url="http://127.0.0.1:9", binance_max_retries=0)
    window = {
        "start": JAN,
        "end": JAN + timedelta(hours=10),
        "engine": sqlite_engine,
        "settings": settings,
    }
    with caplog.at_level(logging.WARNING, logger="tools.market_data"):
        assert load_candles("BTCUSDT", "1h", **window).source == "synthetic"  # type: ignore[arg-type]
        seed_store(sqlite_engine)
        assert load_candles("BTCUSDT", "1h", **window).source == "store"  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("falling back to store" in m for m in messages) == 2
    assert sum("falling back to synthetic" in m for m in messages) == 1


def test_ensure_history_adds_warmup_from_the_store(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)
    start = JAN + timedelta(hours=300)
    series = ensure_history(
        "BTCUSDT",
        "1h",
        start,
        start + timedelta(hours=100),
        engine=sqlite_engine,
        settings=settings_for("store"),
    )
    assert series.source == "store"
    assert len(series) == 300
    assert series.frame.index.get_loc(pd.Timestamp(start)) == 200


def test_ensure_history_synthesises_the_whole_window_when_warmup_is_missing(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    seed_store(sqlite_engine)
    with caplog.at_level(logging.WARNING, logger="tools.market_data"):
        series = ensure_history(
            "BTCUSDT",
            "1h",
            JAN + timedelta(hours=50),
            JAN + timedelta(hours=150),
            engine=sqlite_engine,
            settings=settings_for("store"),
        )
    assert series.source == "synthetic"
    assert len(series) == 300
    assert series.frame.index[0] == pd.Timestamp(JAN + timedelta(hours=50 - 200))
    assert any("do not span" in r.getMessage() for r in caplog.records)


def test_ensure_history_live_fetches_what_is_missing(sqlite_engine: Engine, fake_binance) -> None:
    settings = settings_for("live", binance_base_url=fake_binance.base_url)
    start = JAN + timedelta(days=30)
    series = ensure_history(
        "ETHUSDT", "1h", start, start + timedelta(days=5), engine=sqlite_engine, settings=settings
    )
    assert series.source == "binance"
    assert len(series) == 200 + 120
    assert len(read_candles(sqlite_engine, "ETHUSDT", "1h")) == 320


def test_bad_arguments_are_refused(sqlite_engine: Engine) -> None:
    settings = settings_for("store")
    with pytest.raises(ValueError, match="unknown interval"):
        load_candles("BTCUSDT", "2x", engine=sqlite_engine, settings=settings)
    with pytest.raises(ValueError, match="not before end"):
        load_candles("BTCUSDT", "1h", start=JAN, end=JAN, engine=sqlite_engine, settings=settings)
    with pytest.raises(ValueError, match="limit must be positive"):
        load_candles("BTCUSDT", "1h", limit=0, engine=sqlite_engine, settings=settings)
    with pytest.raises(ValueError, match="no timezone"):
        load_candles(
            "BTCUSDT", "1h", start=datetime(2024, 1, 1), engine=sqlite_engine, settings=settings
        )


@pytest.mark.realdata
def test_real_history_serves_a_backtest_window(sqlite_engine: Engine, real_btc_1h: Path) -> None:
    from tools.importers import import_file

    import_file(sqlite_engine, real_btc_1h)
    start = datetime(2023, 3, 1, tzinfo=UTC)
    series = ensure_history(
        "BTCUSDT",
        "1h",
        start,
        datetime(2023, 4, 1, tzinfo=UTC),
        engine=sqlite_engine,
        settings=settings_for("store"),
    )
    assert series.source == "store"
    # March 2023 has one real outage bar missing (2023-03-24 13:00): reported, not filled.
    assert len(series) == 200 + 31 * 24 - 1
    assert 19_000 < series.frame["close"].loc[start] < 25_000


def test_stored_synthetic_bars_keep_their_label(sqlite_engine: Engine) -> None:
    """The demo stores synthetic candles when no real data is at hand: reading them back from
    the store must still say synthetic, in store mode and through ensure_history alike."""
    seed_store(sqlite_engine, source="synthetic")
    series = load_candles(
        "BTCUSDT", "1h", limit=300, engine=sqlite_engine, settings=settings_for("store")
    )
    assert series.source == "synthetic"
    history = ensure_history(
        "BTCUSDT",
        "1h",
        JAN + timedelta(hours=300),
        JAN + timedelta(hours=900),
        engine=sqlite_engine,
        settings=settings_for("store"),
    )
    assert history.source == "synthetic"


def test_real_stored_bars_are_labelled_store(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)
    series = load_candles(
        "BTCUSDT", "1h", limit=300, engine=sqlite_engine, settings=settings_for("store")
    )
    assert series.source == "store"
