"""The source chain: where candles come from, and a label that always says so.

`settings.data_source` picks the first link: `live` (Binance, stored as fetched) → `store`
(the local candle table) → `synthetic` (seeded generator). Falling back logs a WARNING and the
returned `CandleSeries.source` names the link that actually produced the data: `binance`,
`store` or `synthetic`. Sources are never mixed inside one series.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Engine

from core.settings import DataSourceMode, Settings, get_settings
from tools.binance import BinanceError, BinanceKlinesClient
from tools.candle_store import (
    datetime_to_ms,
    frame_to_series_frame,
    now_ms,
    read_candles,
    store_candles,
    stored_sources,
)
from tools.importers import normalise_symbol
from tools.intervals import interval_ms
from tools.synthetic import SYNTHETIC_SOURCE, generate_candles

log = logging.getLogger(__name__)

SeriesSource = Literal["binance", "store", "synthetic"]
DEFAULT_LIMIT = 500
DEFAULT_WARMUP_BARS = 200


@dataclass(frozen=True)
class CandleSeries:
    """Candles plus where they came from. `frame`: UTC DatetimeIndex of open times and float
    columns open high low close volume."""

    symbol: str
    interval: str
    frame: pd.DataFrame
    source: SeriesSource

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class _Window:
    """[start_ms, end_ms) in candle open times; `limit` keeps only the newest bars."""

    start_ms: int
    end_ms: int
    limit: int | None


def _resolve_window(
    interval: str,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
    *,
    default_limit: int | None,
) -> _Window | None:
    """None means 'everything stored' (store link only, no bounds asked for)."""
    step = interval_ms(interval)
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    now = now_ms()
    forming_open = now - now % step  # bars opening here or later are not closed yet
    end_ms = forming_open if end is None else min(datetime_to_ms(end), forming_open)
    if start is None:
        bars = limit if limit is not None else default_limit
        if bars is None:
            return None
        return _Window(end_ms - bars * step, end_ms, limit)
    start_ms = datetime_to_ms(start)
    start_ms += (-start_ms) % step  # first open time at or after start
    if start_ms >= end_ms:
        until = end.isoformat() if end is not None else "the last closed candle"
        raise ValueError(f"start {start.isoformat()} is not before end ({until})")
    return _Window(start_ms, end_ms, limit)


def _series(symbol: str, interval: str, frame: pd.DataFrame, source: SeriesSource) -> CandleSeries:
    return CandleSeries(symbol, interval, frame_to_series_frame(frame), source)


def _stored_label(
    engine: Engine, symbol: str, interval: str, frame: pd.DataFrame, default: SeriesSource
) -> SeriesSource:
    """Stored rows keep the label they were written with: synthetic bars someone stored (the
    demo does, when no real data is at hand) are still synthetic when read back."""
    sources = stored_sources(
        engine, symbol, interval, int(frame["open_time"].iloc[0]), int(frame["open_time"].iloc[-1])
    )
    return SYNTHETIC_SOURCE if SYNTHETIC_SOURCE in sources else default  # type: ignore[return-value]


def _synthetic(symbol: str, interval: str, window: _Window, settings: Settings) -> CandleSeries:
    step = interval_ms(interval)
    bars = max(0, -(-(window.end_ms - window.start_ms) // step))
    frame = generate_candles(symbol, interval, window.start_ms, bars, seed=settings.synthetic_seed)
    if window.limit is not None:
        frame = frame.tail(window.limit)
    return _series(symbol, interval, frame, SYNTHETIC_SOURCE)  # type: ignore[arg-type]


def _fetch_and_store(
    engine: Engine, symbol: str, interval: str, window: _Window, settings: Settings
) -> pd.DataFrame:
    client = BinanceKlinesClient.from_settings(settings)
    try:
        frame = client.fetch_klines(symbol, interval, window.start_ms, window.end_ms)
    finally:
        client.close()
    report = store_candles(engine, symbol, interval, frame, source="binance")
    if report.rejected:
        log.warning(
            "binance %s %s: %d candles failed OHLC checks and were not stored (e.g. %s)",
            symbol,
            interval,
            report.rejected,
            report.rejected_examples[:1],
        )
    return read_candles(
        engine, symbol, interval, start_ms=window.start_ms, end_ms=window.end_ms, limit=window.limit
    )


def _engine_for(engine: Engine | None, settings: Settings) -> Engine:
    if engine is not None:
        return engine
    from persistence.db import get_engine

    return get_engine(settings.database_url)


def load_candles(
    symbol: str,
    interval: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> CandleSeries:
    """Closed candles with open time in [start, end), the newest `limit` of them if given.

    The store link leaves unbounded sides open (no start and no limit: all it holds; only a
    limit: its newest `limit` bars). Live and synthetic links end at the last closed candle
    and, without start, cover `limit` (default `DEFAULT_LIMIT`) bars.
    """
    settings = settings or get_settings()
    symbol = normalise_symbol(symbol)
    mode = settings.data_source
    bounded = _resolve_window(interval, start, end, limit, default_limit=DEFAULT_LIMIT)
    assert bounded is not None  # with a default limit a window always resolves

    if mode is DataSourceMode.synthetic:
        return _synthetic(symbol, interval, bounded, settings)

    db = _engine_for(engine, settings)
    if mode is DataSourceMode.live:
        try:
            fetched = _fetch_and_store(db, symbol, interval, bounded, settings)
        except BinanceError as exc:
            log.warning(
                "live data unavailable for %s %s (%s); falling back to store", symbol, interval, exc
            )
        else:
            if not fetched.empty:
                return _series(
                    symbol,
                    interval,
                    fetched,
                    _stored_label(db, symbol, interval, fetched, "binance"),
                )
            log.warning(
                "binance returned no candles for %s %s; falling back to store", symbol, interval
            )

    # Unbounded sides stay open for the store: "the newest N" means the newest N it holds.
    stored = read_candles(
        db,
        symbol,
        interval,
        start_ms=bounded.start_ms if start is not None else None,
        end_ms=bounded.end_ms if end is not None else None,
        limit=limit,
    )
    if not stored.empty:
        return _series(
            symbol, interval, stored, _stored_label(db, symbol, interval, stored, "store")
        )
    log.warning("no stored candles for %s %s; falling back to synthetic data", symbol, interval)
    return _synthetic(symbol, interval, bounded, settings)


def _covers(frame: pd.DataFrame, start_ms: int, end_ms: int, step: int) -> bool:
    """The stored bars span the whole window (inner gaps are allowed, and reported elsewhere)."""
    if frame.empty:
        return False
    first, last = int(frame["open_time"].iloc[0]), int(frame["open_time"].iloc[-1])
    return first <= start_ms and last >= end_ms - step


def ensure_history(
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    warmup_bars: int = DEFAULT_WARMUP_BARS,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> CandleSeries:
    """Candles for [start, end) plus at least `warmup_bars` before `start`, from one source.

    Live mode fetches (and stores) the whole window first. If the store still does not span
    the window, the whole window is synthesised — labelled `synthetic`, with a WARNING —
    rather than splicing real and invented bars.
    """
    if warmup_bars < 0:
        raise ValueError(f"warmup_bars must be ≥ 0, got {warmup_bars}")
    settings = settings or get_settings()
    symbol = normalise_symbol(symbol)
    step = interval_ms(interval)
    window = _resolve_window(interval, start, end, None, default_limit=None)
    assert window is not None
    full = _Window(window.start_ms - warmup_bars * step, window.end_ms, None)

    if settings.data_source is DataSourceMode.synthetic:
        return _synthetic(symbol, interval, full, settings)

    db = _engine_for(engine, settings)
    label: SeriesSource = "store"
    if settings.data_source is DataSourceMode.live:
        try:
            _fetch_and_store(db, symbol, interval, full, settings)
            label = "binance"
        except BinanceError as exc:
            log.warning(
                "live data unavailable for %s %s (%s); using the store", symbol, interval, exc
            )
    stored = read_candles(db, symbol, interval, start_ms=full.start_ms, end_ms=full.end_ms)
    if _covers(stored, full.start_ms, full.end_ms, step):
        return _series(symbol, interval, stored, _stored_label(db, symbol, interval, stored, label))
    log.warning(
        "stored %s %s candles do not span %s → %s with %d warm-up bars (%d bars held); "
        "using synthetic data for the whole window",
        symbol,
        interval,
        start.isoformat(),
        end.isoformat(),
        warmup_bars,
        len(stored),
    )
    return _synthetic(symbol, interval, full, settings)
