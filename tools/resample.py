"""Coarser candles from finer stored ones, bucketed the way Binance buckets them.

Binance opens every kline at a multiple of its interval since the Unix epoch (UTC), except
weekly klines, which open on Mondays 00:00 UTC. A bucket takes the first open, the highest
high, the lowest low, the last close and the summed volume of the finer candles inside it.
A bucket is a closed candle only if its first and last finer candles are stored: the
trailing bucket of a series that stops mid-bucket (still forming, or cut short) and a leading
bucket the store starts in the middle of are dropped. Holes inside a bucket (exchange
maintenance) stay, as they do in Binance's own candles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.candle_frame import FRAME_COLUMNS
from tools.intervals import DAY_MS, INTERVAL_MS, interval_ms

MONDAY_ORIGIN = pd.Timestamp("1970-01-05", tz="UTC")  # the first Monday after the epoch
AGGREGATION = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def finer_sources(interval: str) -> list[str]:
    """Intervals whose candles resample exactly into `interval`, coarsest first."""
    target = interval_ms(interval)
    return sorted(
        (name for name, ms in INTERVAL_MS.items() if ms < target and target % ms == 0),
        key=lambda name: -INTERVAL_MS[name],
    )


def bucket_origin(interval: str) -> pd.Timestamp | str:
    return MONDAY_ORIGIN if interval == "1w" else "epoch"


def bucket_offset_ms(interval: str) -> int:
    """Where `interval`'s buckets start relative to multiples of its length since the epoch."""
    return 4 * DAY_MS if interval == "1w" else 0


def align_up(interval: str, ms: int) -> int:
    """The first bucket open time at or after `ms`."""
    offset = bucket_offset_ms(interval)
    return ms + (-(ms - offset)) % interval_ms(interval)


def align_down(interval: str, ms: int) -> int:
    """The open time of the bucket containing `ms`."""
    offset = bucket_offset_ms(interval)
    return ms - (ms - offset) % interval_ms(interval)


def resample_candles(frame: pd.DataFrame, source_interval: str, interval: str) -> pd.DataFrame:
    """`frame` (candle frame of `source_interval`) → closed candles of `interval`."""
    step, fine = interval_ms(interval), interval_ms(source_interval)
    if step % fine or step <= fine:
        raise ValueError(
            f"interval: {interval} candles cannot be built from {source_interval} candles"
        )
    if frame.empty:
        return frame.loc[:, list(FRAME_COLUMNS)].iloc[:0]
    times = pd.to_datetime(frame["open_time"].to_numpy(), unit="ms", utc=True)
    indexed = frame.loc[:, list(AGGREGATION)].set_axis(times)
    indexed["first_ms"] = frame["open_time"].to_numpy()
    indexed["last_ms"] = frame["open_time"].to_numpy()
    out = indexed.resample(
        pd.Timedelta(milliseconds=step), origin=bucket_origin(interval), label="left", closed="left"
    ).agg({**AGGREGATION, "first_ms": "first", "last_ms": "last"})
    out = out.loc[out["first_ms"].notna()]
    if out.empty:
        return frame.loc[:, list(FRAME_COLUMNS)].iloc[:0]
    index = pd.DatetimeIndex(out.index)
    starts = ((index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(
        dtype="int64"
    )
    keep = np.ones(len(out), dtype=bool)
    keep[0] = int(out["first_ms"].iloc[0]) == starts[0]
    keep[-1] = keep[-1] and int(out["last_ms"].iloc[-1]) == starts[-1] + step - fine
    result = pd.DataFrame({"open_time": starts[keep]})
    for name in AGGREGATION:
        result[name] = out[name].to_numpy(dtype="float64")[keep]
    return result
