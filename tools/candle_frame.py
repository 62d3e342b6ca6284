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
    """A row refused by the sanity rules (or unreadable): where it is and what is wrong."""

    open_time: int | None
    reason: str
    values: dict[str, float] = {}
    line: int | None = None
    """Line in the source file (1-based, header included) when read from a file."""
    field: str = ""
    """The column that breaks the rule."""
    value: str = ""
    """That column's value as read."""

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else "row"
        when = (
            "" if self.open_time is None else f" ({ms_to_datetime(self.open_time):%Y-%m-%d %H:%M})"
        )
        return f"{where}{when}, field {self.field!r}, value {self.value!r}: {self.reason}"


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


PRICES = ["open", "high", "low", "close"]


def _first_column(mask: pd.DataFrame) -> pd.Series:
    """Per row, the first column where `mask` is true."""
    return mask.idxmax(axis=1)


def _rejection_reasons(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """One (reason, field) per row ('' when the row is sane); first failing rule wins."""
    values = frame[list(OHLCV)]
    not_finite = pd.DataFrame(~np.isfinite(values.to_numpy()), index=values.index, columns=OHLCV)
    non_positive = values[PRICES] <= 0
    rules: list[tuple[str, Any, Any]] = [
        ("NaN or infinite value", not_finite.any(axis=1), _first_column(not_finite)),
        ("non-positive price", non_positive.any(axis=1), _first_column(non_positive)),
        ("low > high", frame["low"] > frame["high"], "low"),
        ("high < max(open, close)", frame["high"] < frame[["open", "close"]].max(axis=1), "high"),
        ("low > min(open, close)", frame["low"] > frame[["open", "close"]].min(axis=1), "low"),
        ("negative volume", frame["volume"] < 0, "volume"),
    ]
    reasons = pd.Series("", index=frame.index, dtype="object")
    fields = pd.Series("", index=frame.index, dtype="object")
    for reason, mask, column in reversed(rules):
        hit = mask.fillna(True)
        reasons = reasons.mask(hit, reason)
        fields = fields.mask(hit, column)
    return reasons, fields


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
    keep = [*FRAME_COLUMNS, *(["line"] if "line" in frame.columns else [])]
    work = frame.loc[:, keep].copy()
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

    reasons, fields = _rejection_reasons(work)
    bad = reasons != ""
    first_bad = work.loc[bad].head(MAX_REJECTED_EXAMPLES)
    examples = [
        RejectedRow(
            open_time=int(record["open_time"]),
            reason=str(reason),
            values={name: float(record[name]) for name in OHLCV},
            line=int(record["line"]) if "line" in record else None,
            field=str(column),
            value=repr(float(record[str(column)])),
        )
        for record, reason, column in zip(
            first_bad.to_dict("records"),
            reasons[bad].head(MAX_REJECTED_EXAMPLES),
            fields[bad].head(MAX_REJECTED_EXAMPLES),
            strict=True,
        )
    ]
    return ValidationReport(
        valid=work.loc[~bad, list(FRAME_COLUMNS)].reset_index(drop=True),
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
