"""The candle frame and its pure checks: columns, UTC epoch-ms times, validation, gaps.

Candles travel between the importers, the Binance client and the store as a *candle frame*:
a DataFrame with an int64 `open_time` column (epoch ms, UTC, candle open) and float columns
`open high low close volume`. Gaps are reported, never filled: a missing candle is a fact
about the exchange (maintenance, outage) that a backtest must be able to see.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from tools.intervals import interval_ms

OHLCV = ("open", "high", "low", "close", "volume")
FRAME_COLUMNS = ("open_time", *OHLCV)
MAX_REJECTED_EXAMPLES = 5


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def datetime_to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment.isoformat()} has no timezone; candle times are UTC")
    return int(moment.timestamp() * 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


class Gap(BaseModel):
    """Candles missing between two present ones: `start`..`end` are the first and last
    missing open times (inclusive), `missing` how many bars are absent."""

    start: datetime
    end: datetime
    missing: int


class RejectedRow(BaseModel):
    open_time: int
    reason: str
    values: dict[str, float]


@dataclass
class ValidationReport:
    """Rows kept and rows thrown out by the OHLC sanity rules (with the first examples)."""

    valid: pd.DataFrame
    rejected: int = 0
    examples: list[RejectedRow] = field(default_factory=list)
    duplicates: int = 0
    forming_dropped: int = 0


def empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in OHLCV})
    frame.insert(0, "open_time", pd.Series(dtype="int64"))
    return frame


def _rejection_reasons(frame: pd.DataFrame) -> pd.Series:
    """One reason per row ('' when the row is sane); first failing rule wins."""
    values = frame[list(OHLCV)]
    rules: list[tuple[str, Any]] = [
        ("NaN or infinite value", ~np.isfinite(values).all(axis=1)),
        ("non-positive price", (values[["open", "high", "low", "close"]] <= 0).any(axis=1)),
        ("low > high", frame["low"] > frame["high"]),
        ("high < max(open, close)", frame["high"] < frame[["open", "close"]].max(axis=1)),
        ("low > min(open, close)", frame["low"] > frame[["open", "close"]].min(axis=1)),
        ("negative volume", frame["volume"] < 0),
    ]
    reasons = pd.Series("", index=frame.index, dtype="object")
    for reason, mask in reversed(rules):
        reasons = reasons.mask(mask.fillna(True), reason)
    return reasons


def validate_candles(
    frame: pd.DataFrame, interval: str, *, now: int | None = None
) -> ValidationReport:
    """Drop the still-forming last candle, duplicate open times and insane rows.

    Insane rows are counted and the first few kept as examples so the caller can report them;
    nothing is repaired.
    """
    step = interval_ms(interval)
    missing = [name for name in FRAME_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"candle frame lacks column(s): {', '.join(missing)}")
    work = frame.loc[:, list(FRAME_COLUMNS)].copy()
    work["open_time"] = work["open_time"].astype("int64")
    for name in OHLCV:
        work[name] = work[name].astype("float64")

    cutoff = now_ms() if now is None else now
    forming = (work["open_time"] + step) > cutoff
    forming_dropped = int(forming.sum())
    work = work.loc[~forming]

    before = len(work)
    work = work.sort_values("open_time", kind="stable").drop_duplicates("open_time", keep="first")
    duplicates = before - len(work)

    reasons = _rejection_reasons(work)
    bad = reasons != ""
    first_bad = work.loc[bad].head(MAX_REJECTED_EXAMPLES)
    examples = [
        RejectedRow(
            open_time=int(record["open_time"]),
            reason=str(reason),
            values={name: float(record[name]) for name in OHLCV},
        )
        for record, reason in zip(
            first_bad.to_dict("records"), reasons[bad].head(MAX_REJECTED_EXAMPLES), strict=True
        )
    ]
    return ValidationReport(
        valid=work.loc[~bad].reset_index(drop=True),
        rejected=int(bad.sum()),
        examples=examples,
        duplicates=duplicates,
        forming_dropped=forming_dropped,
    )


def find_gaps(open_times: Iterable[int] | np.ndarray, interval: str) -> list[Gap]:
    """Every run of missing bars between consecutive present open times."""
    step = interval_ms(interval)
    times = np.unique(np.fromiter(open_times, dtype="int64"))
    if len(times) < 2:
        return []
    diffs = np.diff(times)
    holes = np.nonzero(diffs > step)[0]
    return [
        Gap(
            start=ms_to_datetime(int(times[i]) + step),
            end=ms_to_datetime(int(times[i + 1]) - step),
            missing=int(diffs[i] // step) - 1,
        )
        for i in holes
    ]


def frame_to_series_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Candle frame → the contract's frame: UTC DatetimeIndex of open times, float OHLCV."""
    index = pd.DatetimeIndex(pd.to_datetime(frame["open_time"].to_numpy(), unit="ms", utc=True))
    out = pd.DataFrame({name: frame[name].to_numpy(dtype="float64") for name in OHLCV}, index=index)
    out.index.name = "open_time"
    return out
