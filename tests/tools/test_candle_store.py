"""Candle store: idempotent upsert on both backends, OHLC sanity, forming candle, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from persistence.candles import list_series, read_candles, store_candles, store_gaps
from persistence.models import Candle
from tools.candle_frame import find_gaps, validate_candles

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
FAR_FUTURE = T0 + 10_000 * HOUR


def candles(open_times: list[int] | np.ndarray, price: float = 100.0) -> pd.DataFrame:
    times = np.asarray(open_times, dtype="int64")
    return pd.DataFrame(
        {
            "open_time": times,
            "open": price,
            "high": price + 2,
            "low": price - 2,
            "close": price + 1,
            "volume": 5.0,
        }
    )


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Candle)).scalar_one())


def test_upsert_is_idempotent(engine: Engine) -> None:
    frame = candles(T0 + HOUR * np.arange(12_000))
    first = store_candles(engine, "BTCUSDT", "1h", frame, source="import", now=T0 + 20_000 * HOUR)
    assert first.rows_new == 12_000
    second = store_candles(engine, "BTCUSDT", "1h", frame, source="import", now=T0 + 20_000 * HOUR)
    assert second.rows_new == 0
    assert second.rows_existing == 12_000
    assert count_rows(engine) == 12_000
    # Overlapping range: only the tail is new, and the stored rows are not overwritten.
    overlap = candles(T0 + HOUR * np.arange(11_990, 12_010), price=999.0)
    third = store_candles(engine, "BTCUSDT", "1h", overlap, source="binance", now=FAR_FUTURE * 2)
    assert third.rows_new == 10
    stored = read_candles(engine, "BTCUSDT", "1h", start_ms=T0 + 11_989 * HOUR)
    assert stored["open"].tolist() == [100.0] * 11 + [999.0] * 10
    assert list_series(engine)[0].sources == ["binance", "import"]


def test_same_times_other_symbol_or_interval_are_distinct(sqlite_engine: Engine) -> None:
    frame = candles(T0 + HOUR * np.arange(10))
    for symbol, interval in [("BTCUSDT", "1h"), ("ETHUSDT", "1h"), ("BTCUSDT", "4h")]:
        report = store_candles(
            sqlite_engine, symbol, interval, frame, source="import", now=FAR_FUTURE
        )
        assert report.rows_new == 10
    series = list_series(sqlite_engine)
    assert [(s.symbol, s.interval, s.rows) for s in series] == [
        ("BTCUSDT", "1h", 10),
        ("BTCUSDT", "4h", 10),
        ("ETHUSDT", "1h", 10),
    ]
    assert series[0].sources == ["import"]


def test_still_forming_candle_is_dropped(sqlite_engine: Engine) -> None:
    frame = candles(T0 + HOUR * np.arange(5))
    now = T0 + 4 * HOUR + 30 * 60_000  # half-way through the fifth bar
    report = store_candles(sqlite_engine, "BTCUSDT", "1h", frame, source="binance", now=now)
    assert report.forming_dropped == 1
    assert report.rows_new == 4
    assert read_candles(sqlite_engine, "BTCUSDT", "1h")["open_time"].max() == T0 + 3 * HOUR


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("high", 50.0, "low > high"),
        ("high", 100.5, "high < max(open, close)"),
        ("low", 100.5, "low > min(open, close)"),
        ("volume", -1.0, "negative volume"),
        ("close", float("nan"), "NaN or infinite value"),
        ("open", 0.0, "non-positive price"),
    ],
)
def test_insane_rows_are_rejected_and_reported(
    sqlite_engine: Engine, column: str, value: float, reason: str
) -> None:
    frame = candles(T0 + HOUR * np.arange(6))
    frame.loc[2, column] = value
    report = store_candles(sqlite_engine, "BTCUSDT", "1h", frame, source="import", now=FAR_FUTURE)
    assert report.rejected == 1
    assert report.rejected_examples[0].reason == reason
    assert report.rejected_examples[0].open_time == T0 + 2 * HOUR
    assert report.rows_new == 5
    assert T0 + 2 * HOUR not in read_candles(sqlite_engine, "BTCUSDT", "1h")["open_time"].tolist()


def test_rejection_examples_are_capped_and_duplicates_counted() -> None:
    frame = candles(T0 + HOUR * np.arange(20))
    frame.loc[:9, "volume"] = -1.0
    doubled = pd.concat([frame, frame.iloc[15:]], ignore_index=True)
    report = validate_candles(doubled, "1h", now=FAR_FUTURE)
    assert report.rejected == 10
    assert len(report.examples) == 5
    assert report.duplicates == 5
    assert len(report.valid) == 10


def test_zero_volume_is_a_valid_candle() -> None:
    frame = candles(T0 + HOUR * np.arange(3))
    frame.loc[1, "volume"] = 0.0
    assert validate_candles(frame, "1h", now=FAR_FUTURE).rejected == 0


def test_gaps_are_reported_not_filled(sqlite_engine: Engine) -> None:
    hours = [0, 1, 2, 5, 6, 10]  # missing 3-4 and 7-9
    report = store_candles(
        sqlite_engine,
        "BTCUSDT",
        "1h",
        candles([T0 + h * HOUR for h in hours]),
        source="import",
        now=FAR_FUTURE,
    )
    assert [
        (g.missing, int(g.start.timestamp() * 1000), int(g.end.timestamp() * 1000))
        for g in report.gaps
    ] == [
        (2, T0 + 3 * HOUR, T0 + 4 * HOUR),
        (3, T0 + 7 * HOUR, T0 + 9 * HOUR),
    ]
    assert store_gaps(sqlite_engine, "BTCUSDT", "1h") == report.gaps
    assert len(read_candles(sqlite_engine, "BTCUSDT", "1h")) == len(hours)


def test_find_gaps_edge_cases() -> None:
    assert find_gaps([], "1h") == []
    assert find_gaps([T0], "1h") == []
    assert find_gaps([T0 + 2 * HOUR, T0, T0 + HOUR], "1h") == []  # order does not matter
    assert find_gaps([T0, T0 + 86_400_000 * 3], "1d")[0].missing == 2


def test_read_candles_window_and_limit(sqlite_engine: Engine) -> None:
    store_candles(
        sqlite_engine,
        "BTCUSDT",
        "1h",
        candles(T0 + HOUR * np.arange(100)),
        source="import",
        now=FAR_FUTURE,
    )
    window = read_candles(
        sqlite_engine, "BTCUSDT", "1h", start_ms=T0 + 10 * HOUR, end_ms=T0 + 20 * HOUR
    )
    assert window["open_time"].tolist() == [T0 + h * HOUR for h in range(10, 20)]
    newest = read_candles(sqlite_engine, "BTCUSDT", "1h", limit=3)
    assert newest["open_time"].tolist() == [T0 + h * HOUR for h in (97, 98, 99)]
    assert read_candles(sqlite_engine, "ETHUSDT", "1h").empty


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="volume"):
        validate_candles(candles([T0]).drop(columns="volume"), "1h")


def test_failure_mid_write_rolls_back_every_batch(sqlite_engine: Engine) -> None:
    frame = candles(T0 + HOUR * np.arange(2_500))
    written: list[int] = []

    def fail_after_first_batch(rows: int) -> None:
        written.append(rows)
        if len(written) == 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store_candles(
            sqlite_engine,
            "BTCUSDT",
            "1h",
            frame,
            source="import",
            now=FAR_FUTURE,
            batch_size=1_000,
            on_batch=fail_after_first_batch,
        )
    assert written == [1_000, 1_000]
    assert count_rows(sqlite_engine) == 0
