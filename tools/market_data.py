"""The source chain: where candles come from, and a label that always says so.

`settings.data_source` picks where candles come from: `live` (Binance, stored as fetched;
when Binance is unreachable the store is read instead, with a WARNING and the label `store`),
`store` (the local candle store) or `synthetic` (the seeded generator). There is **no silent
fallback to synthetic data**: synthetic candles are produced only when the caller asks for
them (`DATA_SOURCE=synthetic`, `synthetic=True` from `--synthetic` or a synthetic portfolio),
or read back from the store when someone stored them (the offline demo does, for a symbol with
no data at all) — and then labelled `synthetic`. A store that holds nothing for the request is
a `MissingDataError` naming what is missing and how to get it.

An interval that is not stored is built from a finer stored one (`tools.resample`, Binance's
bucket alignment) and labelled `store-resampled`. Sources are never mixed inside one series.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import pandas as pd

from core.settings import DataSourceMode, Settings, get_settings
from tools.binance import BinanceError, BinanceKlinesClient
from tools.candle_frame import datetime_to_ms, frame_to_series_frame, ms_to_datetime, now_ms
from tools.candle_store import CandleStore
from tools.importers import normalise_symbol
from tools.intervals import interval_ms
from tools.provenance import (
    SYNTHETIC_SOURCE,
    MixedSourceError,
    SeriesSource,
    market_kind,
)
from tools.resample import align_down, align_up, finer_sources, resample_candles
from tools.synthetic import generate_candles

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_WARMUP_BARS",
    "CandleSeries",
    "MissingDataError",
    "SeriesSource",
    "load_candles",
    "read_store",
    "wants_synthetic",
]

DEFAULT_LIMIT = 500
DEFAULT_WARMUP_BARS = 200
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class CandleSeries:
    """Candles plus where they came from. `frame`: UTC DatetimeIndex of open times and float
    columns open high low close volume."""

    symbol: str
    interval: str
    frame: pd.DataFrame
    source: SeriesSource
    derived_from: str | None = None
    """The stored interval a `store-resampled` series was built from (e.g. `1h`)."""

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def label(self) -> str:
        """`store-resampled from 1h`, `store`, `synthetic`, …: what every screen shows."""
        return f"{self.source} from {self.derived_from}" if self.derived_from else self.source


class MissingDataError(ValueError):
    """The store lacks the candles asked for; the message says what is missing and how to get
    them. Never answered with synthetic candles."""


@dataclass(frozen=True)
class Window:
    """[start_ms, end_ms) in candle open times; `limit` keeps only the newest bars."""

    start_ms: int
    end_ms: int
    limit: int | None


def wants_synthetic(settings: Settings, synthetic: bool = False) -> bool:
    """Synthetic candles only when asked: the setting or an explicit request."""
    return synthetic or settings.data_source is DataSourceMode.synthetic


def resolve_window(
    interval: str, start: datetime | None, end: datetime | None, limit: int | None
) -> Window:
    """The closed bars asked for; without `start`, the `limit` (default `DEFAULT_LIMIT`) bars
    before `end` (default: the last closed bar)."""
    step = interval_ms(interval)
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    forming_open = align_down(interval, now_ms())  # bars opening here or later are not closed
    end_ms = (
        forming_open if end is None else min(align_up(interval, datetime_to_ms(end)), forming_open)
    )
    if start is None:
        bars = limit if limit is not None else DEFAULT_LIMIT
        return Window(end_ms - bars * step, end_ms, limit)
    start_ms = align_up(interval, datetime_to_ms(start))
    if start_ms >= end_ms:
        until = end.isoformat() if end is not None else "the last closed candle"
        raise ValueError(f"start {start.isoformat()} is not before end ({until})")
    return Window(start_ms, end_ms, limit)


def synthetic_series(
    symbol: str, interval: str, window: Window, settings: Settings
) -> CandleSeries:
    step = interval_ms(interval)
    bars = max(0, -(-(window.end_ms - window.start_ms) // step))
    frame = generate_candles(symbol, interval, window.start_ms, bars, seed=settings.synthetic_seed)
    if window.limit is not None:
        frame = frame.tail(window.limit)
    return CandleSeries(symbol, interval, frame_to_series_frame(frame), "synthetic")


def _stored_label(
    store: CandleStore, symbol: str, interval: str, frame: pd.DataFrame, real: SeriesSource
) -> SeriesSource:
    """Stored rows keep the kind they were written with: synthetic bars someone stored (the
    demo does, when no real data is at hand) are still synthetic when read back."""
    times = frame["open_time"]
    sources = store.sources(symbol, interval, int(times.iloc[0]), int(times.iloc[-1]))
    kinds = {market_kind(s) for s in sources}
    if len(kinds) > 1:
        raise MixedSourceError(
            f"source: stored {symbol} {interval} candles mix real and synthetic rows "
            f"({sorted(sources)}); delete one kind before using them"
        )
    return cast(SeriesSource, SYNTHETIC_SOURCE) if kinds == {"synthetic"} else real


@dataclass(frozen=True)
class StoreRead:
    """Candles read (or resampled) from the store: a candle frame and where it came from."""

    frame: pd.DataFrame
    source: SeriesSource
    derived_from: str | None


def _read_interval(
    store: CandleStore,
    symbol: str,
    interval: str,
    stored: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int | None,
) -> StoreRead | None:
    if stored == interval:
        frame = store.read(symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit)
        if frame.empty:
            return None
        return StoreRead(frame, _stored_label(store, symbol, stored, frame, "store"), None)
    ratio = interval_ms(interval) // interval_ms(stored)
    fine_limit = None if limit is None else (limit + 2) * ratio
    fine = store.read(symbol, stored, start_ms=start_ms, end_ms=end_ms, limit=fine_limit)
    if fine.empty:
        return None
    frame = resample_candles(fine, stored, interval)
    if limit is not None:
        frame = frame.tail(limit).reset_index(drop=True)
    if frame.empty:
        return None
    label = _stored_label(store, symbol, stored, fine, "store-resampled")
    return StoreRead(frame, label, stored)


def read_store(
    store: CandleStore,
    symbol: str,
    interval: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
) -> StoreRead | None:
    """The best stored candles for the request: `interval` itself, or resampled from the
    finer stored interval that covers the most of it (the stored interval wins ties; without
    `start_ms`, the series reaching the latest bar wins). None when nothing is stored."""
    held = {s.interval for s in store.series(symbol)}
    reads: list[StoreRead] = []
    for stored in [interval, *finer_sources(interval)]:
        if stored not in held:
            continue
        found = _read_interval(store, symbol, interval, stored, start_ms, end_ms, limit)
        if found is not None:
            reads.append(found)
    if not reads:
        return None
    if start_ms is None:
        return max(
            reads, key=lambda r: (int(r.frame["open_time"].iloc[-1]), r.derived_from is None)
        )
    return max(reads, key=lambda r: (len(r.frame), r.derived_from is None))


def describe_holdings(store: CandleStore, symbol: str) -> str:
    held = store.series(symbol)
    if not held:
        return f"the store holds no {symbol} candles at all"
    parts = [
        f"{s.interval} {s.first:{TIME_FORMAT}} → {s.last:{TIME_FORMAT}} ({','.join(s.sources)})"
        for s in held
    ]
    return f"stored {symbol}: " + "; ".join(parts)


def how_to_get(symbol: str, interval: str, start_ms: int | None, end_ms: int | None) -> str:
    frm = f" --from {ms_to_datetime(start_ms):%Y-%m-%d}" if start_ms is not None else " --from …"
    to = f" --to {ms_to_datetime(end_ms):%Y-%m-%d}" if end_ms is not None else ""
    return (
        f"get them with `cryptofirm data fetch {symbol} --interval {interval}{frm}{to}` or "
        f"`cryptofirm data import FILE`, or ask for invented data explicitly "
        f"(DATA_SOURCE=synthetic or --synthetic)"
    )


def missing_data(
    store: CandleStore, symbol: str, interval: str, start_ms: int | None, end_ms: int | None
) -> MissingDataError:
    span = ""
    if start_ms is not None and end_ms is not None:
        first, last = ms_to_datetime(start_ms), ms_to_datetime(end_ms)
        span = f" for {first:{TIME_FORMAT}} → {last:{TIME_FORMAT}}"
    elif end_ms is not None:
        span = f" before {ms_to_datetime(end_ms):{TIME_FORMAT}}"
    return MissingDataError(
        f"no stored {symbol} {interval} candles{span} (nor finer ones to build them from); "
        f"{describe_holdings(store, symbol)}; {how_to_get(symbol, interval, start_ms, end_ms)}"
    )


def fetch_and_store(
    store: CandleStore, symbol: str, interval: str, window: Window, settings: Settings
) -> None:
    """Fetch [start, end) from Binance into the store; a stored candle Binance now reports
    differently (fetched while still forming) is corrected."""
    client = BinanceKlinesClient.from_settings(settings)
    try:
        frame = client.fetch_klines(symbol, interval, window.start_ms, window.end_ms)
    finally:
        client.close()
    report = store.write(symbol, interval, frame, source="binance", overwrite="same_source")
    if report.rejected:
        log.warning(
            "binance %s %s: %d candles failed OHLC checks and were not stored (e.g. %s)",
            symbol,
            interval,
            report.rejected,
            report.rejected_examples[:1],
        )
    if report.conflicts > report.replaced:
        log.warning(
            "binance %s %s: %d stored candles differ from Binance and were kept (imported rows; "
            "`cryptofirm data import --replace` overwrites)",
            symbol,
            interval,
            report.conflicts - report.replaced,
        )


def load_candles(
    symbol: str,
    interval: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    store: CandleStore | None = None,
    settings: Settings | None = None,
    synthetic: bool = False,
) -> CandleSeries:
    """Closed candles with open time in [start, end), the newest `limit` of them if given.

    The store leaves unbounded sides open (no start and no limit: all it holds; only a
    limit: its newest `limit` bars). Live and synthetic sources end at the last closed candle
    and, without start, cover `limit` (default `DEFAULT_LIMIT`) bars. Raises
    `MissingDataError` when the store has nothing for the request.
    """
    settings = settings or get_settings()
    symbol = normalise_symbol(symbol)
    window = resolve_window(interval, start, end, limit)
    if wants_synthetic(settings, synthetic):
        return synthetic_series(symbol, interval, window, settings)
    if store is None:
        raise ValueError("store: a candle store is required unless synthetic data is asked for")

    live = settings.data_source is DataSourceMode.live
    if live:
        try:
            fetch_and_store(store, symbol, interval, window, settings)
        except BinanceError as exc:
            live = False
            log.warning(
                "live data unavailable for %s %s (%s); reading the store", symbol, interval, exc
            )
    start_ms = window.start_ms if (start is not None or live) else None
    end_ms = window.end_ms if (end is not None or live) else None
    found = read_store(store, symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit)
    if found is None:
        raise missing_data(store, symbol, interval, start_ms, end_ms)
    source = found.source
    if live and source == "store":
        source = "binance"
    return CandleSeries(
        symbol, interval, frame_to_series_frame(found.frame), source, found.derived_from
    )
