"""Resampling finer stored candles into Binance's own coarser buckets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.resample import finer_sources, resample_candles

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday


def candle_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index()
    stamps = pd.DatetimeIndex(out.iloc[:, 0])
    epoch = pd.Timestamp(0, tz="UTC")
    return pd.DataFrame(
        {
            "open_time": ((stamps - epoch) // pd.Timedelta(milliseconds=1)).to_numpy("int64"),
            **{c: out[c].to_numpy("float64") for c in ("open", "high", "low", "close", "volume")},
        }
    )


@pytest.mark.realdata
def test_daily_from_real_1h_equals_binance_daily_on_all_366_days_of_2020(
    real_btc_1h_frame: pd.DataFrame, real_data_dir: Path
) -> None:
    hourly = candle_frame(real_btc_1h_frame)
    daily = resample_candles(hourly, "1h", "1d")
    basana = pd.read_csv(real_data_dir / "gbeced__basana" / "binance_btcusdt_day_2020.csv")
    stamps = pd.to_datetime(basana["datetime"], utc=True)
    basana["open_time"] = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    both = basana.merge(daily, on="open_time", suffixes=("_binance", "_resampled"))
    assert len(both) == 366
    for column in ("open", "high", "low", "close"):
        assert (both[f"{column}_binance"] == both[f"{column}_resampled"]).all(), column
    relative = (both["volume_binance"] - both["volume_resampled"]).abs() / both["volume_resampled"]
    off = both.loc[relative > 1e-6, "datetime"].tolist()
    # PROVENANCE.md: the basana file has volume 0 on 2020-02-29 (its OHLC is right).
    assert off == ["2020-02-29 00:00:00"]
    assert both.loc[both["datetime"] == "2020-02-29 00:00:00", "volume_binance"].item() == 0


def hourly(hours: int, start: int = T0) -> pd.DataFrame:
    times = start + HOUR * np.arange(hours, dtype="int64")
    price = 100.0 + np.arange(hours, dtype="float64")
    return pd.DataFrame(
        {
            "open_time": times,
            "open": price,
            "high": price + 5,
            "low": price - 5,
            "close": price + 1,
            "volume": 1.0,
        }
    )


def test_buckets_are_epoch_aligned_and_the_forming_one_is_not_a_candle() -> None:
    # Starts at 02:00 (mid-bucket) and stops at 13:00 (mid-bucket): both ends are dropped.
    frame = hourly(12, start=T0 + 2 * HOUR)
    out = resample_candles(frame, "1h", "4h")
    assert out["open_time"].tolist() == [T0 + 4 * HOUR, T0 + 8 * HOUR]
    first = out.iloc[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        102.0,
        110.0,
        97.0,
        106.0,
        4.0,
    )


def test_weekly_buckets_open_on_monday() -> None:
    out = resample_candles(hourly(24 * 15), "1h", "1w")
    assert out["open_time"].tolist() == [T0, T0 + 7 * 24 * HOUR]


def test_a_hole_inside_a_bucket_stays_a_candle() -> None:
    frame = hourly(8).drop(index=[1, 2]).reset_index(drop=True)
    out = resample_candles(frame, "1h", "4h")
    assert out["open_time"].tolist() == [T0, T0 + 4 * HOUR]
    assert out["volume"].tolist() == [2.0, 4.0]


def test_only_exact_divisors_are_sources() -> None:
    assert finer_sources("4h") == ["2h", "1h", "30m", "15m", "5m", "3m", "1m"]
    assert "8h" not in finer_sources("12h")  # 12h is not a whole number of 8h candles
    with pytest.raises(ValueError, match="cannot be built"):
        resample_candles(hourly(10), "1h", "1h")


@settings(max_examples=40, deadline=None)
@given(
    skip=st.integers(min_value=0, max_value=23),
    hours=st.integers(min_value=0, max_value=24 * 6),
    target=st.sampled_from(["2h", "4h", "6h", "8h", "12h", "1d"]),
)
def test_every_resampled_candle_is_a_whole_bucket(skip: int, hours: int, target: str) -> None:
    frame = hourly(hours, start=T0 + skip * HOUR)
    out = resample_candles(frame, "1h", target)
    step = {"2h": 2, "4h": 4, "6h": 6, "8h": 8, "12h": 12, "1d": 24}[target] * HOUR
    assert (out["open_time"] % step == 0).all()
    assert (out["volume"] == step // HOUR).all()  # no partial bucket at either end
    stored = set(frame["open_time"].tolist())
    for t in out["open_time"]:
        assert all(t + k * HOUR in stored for k in range(step // HOUR))
