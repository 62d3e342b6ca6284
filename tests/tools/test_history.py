"""Backtest history: a range real data does not cover is refused (or clipped when asked);
warm-up comes from real data or the start moves forward, with a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from core.settings import Settings
from persistence.candles import SqlCandleStore, store_candles
from tools.history import CoverageError, ensure_history
from tools.importers import import_file

HOUR = 3_600_000
JAN = datetime(2024, 1, 1, tzinfo=UTC)
JAN_MS = int(JAN.timestamp() * 1000)
STORE = Settings(data_source="store", _env_file=None)  # type: ignore[arg-type]


def seed(engine: Engine, bars: int = 1_000) -> None:
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
    store_candles(engine, "BTCUSDT", "1h", frame, source="import")


def test_covered_range_gets_its_warmup_from_the_store(sqlite_engine: Engine) -> None:
    seed(sqlite_engine)
    start = JAN + timedelta(hours=300)
    history = ensure_history(
        "BTCUSDT",
        "1h",
        start,
        start + timedelta(hours=100),
        store=SqlCandleStore(sqlite_engine),
        settings=STORE,
    )
    assert history.series.source == "store" and history.notes == ()
    assert (history.start, history.end) == (start, start + timedelta(hours=100))
    assert len(history.series) == 300
    assert history.series.frame.index.get_loc(pd.Timestamp(start)) == 200


def test_range_past_the_store_is_refused_naming_the_missing_part(sqlite_engine: Engine) -> None:
    seed(sqlite_engine)  # 1h bars 2024-01-01 00:00 → 2024-02-11 15:00
    with pytest.raises(CoverageError) as caught:
        ensure_history(
            "BTCUSDT",
            "1h",
            JAN + timedelta(days=20),
            JAN + timedelta(days=50),
            store=SqlCandleStore(sqlite_engine),
            settings=STORE,
        )
    message = str(caught.value)
    assert message.startswith("range: real BTCUSDT 1h data (store) covers 2024-01-01 00:00")
    assert "missing 2024-02-11 16:00 → 2024-02-19 23:00 (200 bars)" in message
    assert "cryptofirm data fetch BTCUSDT --interval 1h --from 2024-02-11" in message
    assert "--clip" in message
    assert caught.value.missing == [(JAN_MS + 1_000 * HOUR, JAN_MS + 50 * 24 * HOUR)]


def test_clip_runs_on_real_data_only_and_says_so(sqlite_engine: Engine) -> None:
    seed(sqlite_engine)
    history = ensure_history(
        "BTCUSDT",
        "1h",
        JAN + timedelta(days=20),
        JAN + timedelta(days=50),
        store=SqlCandleStore(sqlite_engine),
        settings=STORE,
        clip=True,
    )
    assert history.series.source == "store"
    assert history.end == JAN + timedelta(hours=1_000)
    assert history.series.frame.index[-1] == pd.Timestamp(JAN + timedelta(hours=999))
    assert len(history.notes) == 1 and history.notes[0].startswith("clipped to real data")


def test_start_inside_the_warmup_moves_forward_with_a_note(sqlite_engine: Engine) -> None:
    seed(sqlite_engine)
    history = ensure_history(
        "BTCUSDT",
        "1h",
        JAN + timedelta(hours=50),
        JAN + timedelta(hours=400),
        store=SqlCandleStore(sqlite_engine),
        settings=STORE,
    )
    assert history.series.source == "store"
    assert history.start == JAN + timedelta(hours=200)
    assert history.series.frame.index[0] == pd.Timestamp(JAN)
    assert "start moved from 2024-01-03 02:00 to 2024-01-09 08:00" in history.notes[0]


def test_range_before_the_store_is_refused_not_synthesised(sqlite_engine: Engine) -> None:
    seed(sqlite_engine)
    with pytest.raises(CoverageError, match=r"missing 2023-12-01 00:00 → 2023-12-31 23:00"):
        ensure_history(
            "BTCUSDT",
            "1h",
            JAN - timedelta(days=31),
            JAN + timedelta(days=5),
            store=SqlCandleStore(sqlite_engine),
            settings=STORE,
        )


@pytest.mark.realdata
def test_issue_range_on_the_real_store_is_refused_or_clipped(
    sqlite_engine: Engine, real_btc_1h: Path
) -> None:
    """The issue's command: 4h to 2024-09-06 with only 1h real data to 2024-04-21 14:00."""
    import_file(SqlCandleStore(sqlite_engine), real_btc_1h)
    args = ("BTCUSDT", "4h", datetime(2024, 2, 5, tzinfo=UTC), datetime(2024, 9, 7, tzinfo=UTC))
    store = SqlCandleStore(sqlite_engine)
    with pytest.raises(CoverageError) as caught:
        ensure_history(*args, store=store, settings=STORE)
    assert "store-resampled from 1h" in str(caught.value)
    assert "missing 2024-04-21 12:00 → 2024-09-06 20:00" in str(caught.value)
    clipped = ensure_history(*args, store=store, settings=STORE, clip=True)
    assert clipped.series.source == "store-resampled"
    assert clipped.end == datetime(2024, 4, 21, 12, tzinfo=UTC)
    assert clipped.series.frame.index[-1] == pd.Timestamp("2024-04-21 08:00", tz="UTC")
    assert "clipped to real data" in clipped.notes[0]
