"""Source chain: live → store (or synthetic when asked), honest labels, no silent synthetic."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from core.settings import Settings
from persistence.candles import SqlCandleStore, read_candles, store_candles
from tools.history import ensure_history
from tools.market_data import MissingDataError, load_candles

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
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert (series.symbol, series.source, len(series)) == ("BTCUSDT", "store", 24)
    assert str(series.frame.index.tz) == "UTC"
    assert series.frame.index[0] == pd.Timestamp(JAN)
    assert list(series.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(series.frame.dtypes == "float64")
    newest = load_candles(
        "BTCUSDT",
        "1h",
        limit=5,
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert newest.frame.index[-1] == pd.Timestamp(JAN + timedelta(hours=999))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_store_mode_without_data_is_an_error_naming_the_way_out(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)  # BTC only: ETH has nothing at all
    with pytest.raises(MissingDataError) as caught:
        load_candles(
            "ETHUSDT",
            "1h",
            start=JAN,
            end=JAN + timedelta(days=2),
            store=SqlCandleStore(sqlite_engine),
            settings=settings_for("store"),
        )
    message = str(caught.value)
    assert "no stored ETHUSDT 1h candles for 2024-01-01 00:00 → 2024-01-03 00:00" in message
    assert "the store holds no ETHUSDT candles at all" in message
    assert "cryptofirm data fetch ETHUSDT --interval 1h --from 2024-01-01" in message
    assert "DATA_SOURCE=synthetic" in message
    assert read_candles(sqlite_engine, "ETHUSDT", "1h").empty


def test_synthetic_when_asked_explicitly_even_in_store_mode(sqlite_engine: Engine) -> None:
    series = load_candles(
        "ETHUSDT",
        "1h",
        start=JAN,
        end=JAN + timedelta(days=2),
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
        synthetic=True,
    )
    assert series.source == "synthetic" and len(series) == 48
    assert 500 < series.frame["close"].iloc[-1] < 10_000  # ETH-like scale
    assert read_candles(sqlite_engine, "ETHUSDT", "1h").empty  # synthetic data is never stored


def test_synthetic_mode_is_deterministic_and_never_touches_the_store(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)
    args = {"start": JAN, "end": JAN + timedelta(hours=300), "settings": settings_for("synthetic")}
    a = load_candles("BTCUSDT", "1h", store=SqlCandleStore(sqlite_engine), **args)  # type: ignore[arg-type]
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
        store=SqlCandleStore(sqlite_engine),
        settings=settings,
    )
    assert series.source == "binance" and len(series) == 1_500
    assert len(read_candles(sqlite_engine, "BTCUSDT", "1h")) == 1_500


def test_live_mode_reads_the_store_when_binance_is_down_never_synthetic(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on this port: every attempt is a connection error.
    settings = settings_for("live", binance_base_url="http://127.0.0.1:9", binance_max_retries=0)
    window = {
        "start": JAN,
        "end": JAN + timedelta(hours=10),
        "store": SqlCandleStore(sqlite_engine),
        "settings": settings,
    }
    with caplog.at_level(logging.WARNING, logger="tools.market_data"):
        with pytest.raises(MissingDataError, match="no stored BTCUSDT 1h candles"):
            load_candles("BTCUSDT", "1h", **window)  # type: ignore[arg-type]
        seed_store(sqlite_engine)
        assert load_candles("BTCUSDT", "1h", **window).source == "store"  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("reading the store" in m for m in messages) == 2


def test_bad_arguments_are_refused(sqlite_engine: Engine) -> None:
    settings = settings_for("store")
    with pytest.raises(ValueError, match="unknown interval"):
        load_candles("BTCUSDT", "2x", store=SqlCandleStore(sqlite_engine), settings=settings)
    with pytest.raises(ValueError, match="not before end"):
        load_candles(
            "BTCUSDT",
            "1h",
            start=JAN,
            end=JAN,
            store=SqlCandleStore(sqlite_engine),
            settings=settings,
        )
    with pytest.raises(ValueError, match="limit must be positive"):
        load_candles(
            "BTCUSDT", "1h", limit=0, store=SqlCandleStore(sqlite_engine), settings=settings
        )
    with pytest.raises(ValueError, match="no timezone"):
        load_candles(
            "BTCUSDT",
            "1h",
            start=datetime(2024, 1, 1),
            store=SqlCandleStore(sqlite_engine),
            settings=settings,
        )


@pytest.mark.realdata
def test_real_history_serves_a_backtest_window(sqlite_engine: Engine, real_btc_1h: Path) -> None:
    from tools.importers import import_file

    import_file(SqlCandleStore(sqlite_engine), real_btc_1h)
    start = datetime(2023, 3, 1, tzinfo=UTC)
    series = ensure_history(
        "BTCUSDT",
        "1h",
        start,
        datetime(2023, 4, 1, tzinfo=UTC),
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert series.series.source == "store" and series.notes == ()
    # March 2023 has one real outage bar missing (2023-03-24 13:00): reported, not filled.
    assert len(series.series) == 200 + 31 * 24 - 1
    assert 19_000 < series.series.frame["close"].loc[start] < 25_000


def test_stored_synthetic_bars_keep_their_label(sqlite_engine: Engine) -> None:
    """The demo stores synthetic candles when no real data is at hand: reading them back from
    the store must still say synthetic, in store mode and through ensure_history alike."""
    seed_store(sqlite_engine, source="synthetic")
    series = load_candles(
        "BTCUSDT",
        "1h",
        limit=300,
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert series.source == "synthetic"
    history = ensure_history(
        "BTCUSDT",
        "1h",
        JAN + timedelta(hours=300),
        JAN + timedelta(hours=900),
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert history.series.source == "synthetic"


def test_real_stored_bars_are_labelled_store(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)
    series = load_candles(
        "BTCUSDT",
        "1h",
        limit=300,
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert series.source == "store"


def test_4h_with_only_1h_stored_is_store_resampled(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine, bars=1_000)  # 1h only, 2024-01-01 00:00 → 2024-02-11 15:00
    series = load_candles(
        "BTCUSDT",
        "4h",
        limit=10,
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert (series.source, series.derived_from, series.label) == (
        "store-resampled",
        "1h",
        "store-resampled from 1h",
    )
    # 1,000 1h bars end at 2024-02-11 15:00: the 12:00 bucket (12–15h) is complete and last.
    assert series.frame.index[-1] == pd.Timestamp(JAN + timedelta(hours=996))
    assert series.frame["volume"].iloc[-1] == 4 * 3.0
    assert series.frame.index[0].hour % 4 == 0


def test_stored_interval_wins_over_resampling_when_it_covers(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine, bars=1_000)
    times = JAN_MS + 4 * HOUR * np.arange(250, dtype="int64")
    frame = pd.DataFrame(
        {"open_time": times, "open": 7.0, "high": 8.0, "low": 6.0, "close": 7.5, "volume": 1.0}
    )
    store_candles(sqlite_engine, "BTCUSDT", "4h", frame, source="import")
    series = load_candles(
        "BTCUSDT",
        "4h",
        start=JAN,
        end=JAN + timedelta(days=10),
        store=SqlCandleStore(sqlite_engine),
        settings=settings_for("store"),
    )
    assert series.source == "store" and series.derived_from is None
    assert series.frame["close"].eq(7.5).all()
