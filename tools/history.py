"""History for a backtest: the traded range plus its warm-up bars, all from one source.

A range the real data does not fully cover is refused (`CoverageError`, naming the missing
part and how to get it) unless the caller asks to `clip` it to the real data — and then the
returned `History.notes` say so. Warm-up bars come from real data too: a start inside the
first `warmup_bars` stored bars moves forward, with a note. Synthetic candles only when asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.settings import DataSourceMode, Settings, get_settings
from tools.binance import BinanceError
from tools.candle_frame import frame_to_series_frame, ms_to_datetime
from tools.candle_store import CandleStore
from tools.importers import normalise_symbol
from tools.intervals import interval_ms
from tools.market_data import (
    DEFAULT_WARMUP_BARS,
    TIME_FORMAT,
    CandleSeries,
    MissingDataError,
    Window,
    describe_holdings,
    fetch_and_store,
    missing_data,
    read_store,
    resolve_window,
    synthetic_series,
    wants_synthetic,
)

log = logging.getLogger(__name__)


class CoverageError(MissingDataError):
    """Part of the requested range has no real candles; `missing` lists the [start, end)
    open-time ranges (ms) that lack them."""

    def __init__(self, message: str, missing: list[tuple[int, int]]) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class History:
    """Candles from `warmup_bars` before `start` to `end`; `start`/`end` are the traded range
    actually served (later/earlier than asked only with a note)."""

    series: CandleSeries
    start: datetime
    end: datetime
    notes: tuple[str, ...] = ()


def _fmt(ms: int) -> str:
    return f"{ms_to_datetime(ms):{TIME_FORMAT}}"


def _span(start_ms: int, end_ms: int, step: int) -> str:
    """[start, end) as first → last open time."""
    bars = (end_ms - start_ms) // step
    return f"{_fmt(start_ms)} → {_fmt(end_ms - step)} ({bars:,} bars)"


def _coverage_error(
    store: CandleStore,
    symbol: str,
    interval: str,
    source_interval: str,
    window: Window,
    first_ms: int,
    last_ms: int,
    missing: list[tuple[int, int]],
    label: str,
) -> CoverageError:
    step = interval_ms(interval)
    holes = "; ".join(_span(a, b, step) for a, b in missing)
    fetch_from, fetch_to = missing[0][0], missing[-1][1]
    return CoverageError(
        f"range: real {symbol} {interval} data ({label}) covers {_fmt(first_ms)} → "
        f"{_fmt(last_ms)}; missing {holes}. Get it with `cryptofirm data fetch {symbol} "
        f"--interval {source_interval} --from {ms_to_datetime(fetch_from):%Y-%m-%d} --to "
        f"{ms_to_datetime(fetch_to + (-fetch_to) % 86_400_000):%Y-%m-%d}` or "
        f"`cryptofirm data import FILE`, "
        f"narrow the range to the covered part, or pass --clip (API: clip) to run on the real "
        f"data only ({describe_holdings(store, symbol)})",
        missing,
    )


def ensure_history(
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    warmup_bars: int = DEFAULT_WARMUP_BARS,
    *,
    store: CandleStore | None = None,
    settings: Settings | None = None,
    synthetic: bool = False,
    clip: bool = False,
) -> History:
    """Candles for [start, end) plus `warmup_bars` before `start`, from one source."""
    if warmup_bars < 0:
        raise ValueError(f"warmup_bars must be ≥ 0, got {warmup_bars}")
    settings = settings or get_settings()
    symbol = normalise_symbol(symbol)
    step = interval_ms(interval)
    window = resolve_window(interval, start, end, None)
    full = Window(window.start_ms - warmup_bars * step, window.end_ms, None)

    if wants_synthetic(settings, synthetic):
        series = synthetic_series(symbol, interval, full, settings)
        note = f"candles are SYNTHETIC (asked for: DATA_SOURCE={settings.data_source.value}"
        note += ", --synthetic)" if synthetic else ")"
        return History(
            series, ms_to_datetime(window.start_ms), ms_to_datetime(window.end_ms), (note,)
        )
    if store is None:
        raise ValueError("store: a candle store is required unless synthetic data is asked for")

    live = settings.data_source is DataSourceMode.live
    if live:
        try:
            fetch_and_store(store, symbol, interval, full, settings)
        except BinanceError as exc:
            live = False
            log.warning(
                "live data unavailable for %s %s (%s); using the store", symbol, interval, exc
            )
    # Everything stored up to the end: warm-up is counted in bars, and real data has gaps.
    found = read_store(store, symbol, interval, start_ms=None, end_ms=window.end_ms)
    if found is None:
        raise missing_data(store, symbol, interval, window.start_ms, window.end_ms)
    times = found.frame["open_time"].to_numpy(dtype="int64")
    in_range = times[times >= window.start_ms]
    if not len(in_range):
        raise missing_data(store, symbol, interval, window.start_ms, window.end_ms)
    first_ms, last_ms = int(times[0]), int(times[-1])
    source_interval = found.derived_from or interval
    label = f"{found.source} from {found.derived_from}" if found.derived_from else found.source

    missing: list[tuple[int, int]] = []
    if first_ms > window.start_ms:
        missing.append((window.start_ms, first_ms))
    if last_ms + step < window.end_ms:
        missing.append((last_ms + step, window.end_ms))
    notes: list[str] = []
    start_ms, end_ms = window.start_ms, window.end_ms
    if missing:
        error = _coverage_error(
            store, symbol, interval, source_interval, window, first_ms, last_ms, missing, label
        )
        if not clip:
            raise error
        start_ms, end_ms = max(start_ms, first_ms), min(end_ms, last_ms + step)
        notes.append(
            f"clipped to real data: traded {_span(start_ms, end_ms, step)} instead of "
            f"{_span(window.start_ms, window.end_ms, step)}; no real candles for "
            + "; ".join(_span(a, b, step) for a, b in missing)
        )
    first_traded = int(np.searchsorted(times, start_ms, side="left"))
    if first_traded < warmup_bars:
        if warmup_bars >= len(times):
            raise CoverageError(
                f"range: only {len(times)} real {symbol} {interval} bars are stored before "
                f"{_fmt(end_ms)}, fewer than the {warmup_bars} warm-up bars the indicators need; "
                f"{describe_holdings(store, symbol)}",
                [(window.start_ms, window.end_ms)],
            )
        moved = int(times[warmup_bars])
        notes.append(
            f"start moved from {_fmt(start_ms)} to {_fmt(moved)}: the first {warmup_bars} real "
            f"bars (from {_fmt(first_ms)}) are the indicators' warm-up"
        )
        start_ms = moved
        first_traded = warmup_bars
    if start_ms >= end_ms:
        raise CoverageError(
            f"range: after {warmup_bars} warm-up bars no real {symbol} {interval} bar is left "
            f"to trade before {_fmt(end_ms)}; {describe_holdings(store, symbol)}",
            [(window.start_ms, window.end_ms)],
        )
    keep = (times < end_ms) & (np.arange(len(times)) >= first_traded - warmup_bars)
    frame = found.frame.loc[keep].reset_index(drop=True)
    source = "binance" if live and found.source == "store" else found.source
    series = CandleSeries(
        symbol, interval, frame_to_series_frame(frame), source, found.derived_from
    )
    return History(series, ms_to_datetime(start_ms), ms_to_datetime(end_ms), tuple(notes))
