"""What the source chain needs from a candle store, and what a write reports.

The store itself (SQL over the `candles` table) is `persistence.candles.SqlCandleStore`;
`tools/` only sees this protocol, so it never imports `persistence/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import pandas as pd
from pydantic import BaseModel

from tools.candle_frame import Gap, RejectedRow

Overwrite = Literal["never", "same_source", "always"]
"""What a write does with stored candles whose values differ: keep them (and report), replace
them only when the stored row came from the same source (a fetch corrects a candle fetched
while still forming), or replace them (`--replace`)."""


class Conflict(BaseModel):
    """A stored candle whose values differ from the incoming one at the same open time."""

    open_time: int
    stored_source: str
    stored: dict[str, float]
    incoming: dict[str, float]


@dataclass
class StoreReport:
    """What one write did: new rows, rows already present, rows refused, gaps in the data."""

    symbol: str
    interval: str
    rows_in: int
    rows_new: int
    rejected: int
    rejected_examples: list[RejectedRow]
    duplicates: int
    forming_dropped: int
    gaps: list[Gap]
    conflicts: int = 0
    """Stored candles whose values differ from the incoming ones."""
    conflict_examples: list[Conflict] = field(default_factory=list)
    replaced: int = 0
    """How many of the conflicting candles were overwritten (see `Overwrite`)."""

    @property
    def rows_existing(self) -> int:
        return self.rows_in - self.rejected - self.duplicates - self.forming_dropped - self.rows_new


class StoredSeries(BaseModel):
    """One (symbol, interval) held in the store."""

    symbol: str
    interval: str
    rows: int
    first: datetime
    last: datetime
    sources: list[str]


class CandleStore(Protocol):
    """Reads and writes of stored candles (frames: int64 `open_time` ms + float OHLCV)."""

    def read(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Open time in [start_ms, end_ms), oldest first; with `limit` the newest `limit`."""
        ...

    def sources(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> set[str]:
        """Distinct stored-row sources with open time in [start_ms, end_ms]."""
        ...

    def write(
        self,
        symbol: str,
        interval: str,
        frame: pd.DataFrame,
        *,
        source: str,
        now: int | None = None,
        overwrite: Overwrite = "never",
    ) -> StoreReport: ...

    def series(self, symbol: str | None = None) -> list[StoredSeries]:
        """Every stored (symbol, interval), or only those of `symbol`."""
        ...
