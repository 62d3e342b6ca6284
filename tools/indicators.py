"""Technical indicators over a candle frame, and the snapshot the agents see at one bar.

`compute_indicators` runs once over the whole series. Every indicator is a causal recursion or a
trailing window, so the value at bar t reads only bars 0..t: a decision at t never sees the
future, and cutting the bars after t leaves the values up to t unchanged.

pandas-ta delegates to TA-Lib when TA-Lib is importable (its `talib=True` default). We require
that path: the pure-pandas fallback seeds RSI/MACD/ATR differently, so its values disagree with
TA-Lib over the first ~200 bars and a backtest's numbers would depend on what happens to be
installed. Hence also the rule that a snapshot needs `MIN_HISTORY_BARS` bars of history.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pandas_ta as ta
import talib
from pandas_ta.maps import Imports as _pandas_ta_imports

from tools.intervals import bars_per_year
from tools.snapshot import IndicatorSnapshot, RecentHistory

MIN_HISTORY_BARS = 200
"""Bars up to and including the decision bar a snapshot needs: EMA200 is defined from bar 200."""

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
INDICATOR_COLUMNS = (
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "ema_20",
    "ema_50",
    "ema_200",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "volume_sma_20",
    "ret_1",
    "log_ret_1",
    "realized_vol_20",
)
REALIZED_VOL_WINDOW = 20
SNAPSHOT_LOOKBACK_BARS = 73
"""Rows a snapshot reads: the decision bar and the 72 before it (return_72_bars)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InsufficientHistoryError(ValueError):
    """A snapshot was asked for at a bar with fewer than `MIN_HISTORY_BARS` bars behind it."""

    def __init__(self, bars: int, needed: int = MIN_HISTORY_BARS) -> None:
        super().__init__(
            f"insufficient history: {bars} bar(s) up to the decision bar, {needed} needed "
            "(the 200-bar EMA and the TA-Lib warm-up need that many)"
        )
        self.bars = bars
        self.needed = needed


class IndicatorValueError(ValueError):
    """An indicator value needed by a snapshot is NaN or infinite."""


class TaLibUnavailableError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "pandas-ta does not see TA-Lib (pandas_ta.maps.Imports['talib'] is False); "
            "install the `ta-lib` package: without it RSI/MACD/ATR differ from TA-Lib"
        )


def _require_talib() -> None:
    if not _pandas_ta_imports.get("talib", False):
        raise TaLibUnavailableError


def _validate_candles(frame: pd.DataFrame) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing candle column(s) {missing}")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("frame.index: expected a DatetimeIndex of candle open times")
    if index.tz is None or str(index.tz) != "UTC":
        raise ValueError(f"frame.index: expected UTC timestamps, got tz={index.tz}")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("frame.index: candle open times must be strictly increasing")
    for column in CANDLE_COLUMNS:
        values = frame[column].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            position = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(f"frame.{column}: non-finite value at bar {position}")


FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _values_or_nan(result: pd.Series | None, n: int) -> FloatArray:
    """pandas-ta returns None (not NaNs) when the series is shorter than the window."""
    if result is None:
        return np.full(n, np.nan)
    return result.to_numpy(dtype=np.float64)


def _columns_or_nan(result: pd.DataFrame | None, names: list[str], n: int) -> list[FloatArray]:
    """Columns of a multi-output pandas-ta result by name (a rename upstream fails loudly)."""
    if result is None:
        return [np.full(n, np.nan) for _ in names]
    return [result[name].to_numpy(dtype=np.float64) for name in names]


def compute_indicators(frame: pd.DataFrame, interval: str = "1h") -> pd.DataFrame:
    """Return a copy of `frame` with the `INDICATOR_COLUMNS` added (NaN during warm-up).

    - rsi_14, ema_*, atr_14, volume_sma_20: pandas-ta with TA-Lib underneath.
    - macd 12/26/9, Bollinger 20/2 (population std): TA-Lib directly (see below).
    - ret_1 = close_t / close_{t-1} - 1; log_ret_1 = ln(close_t / close_{t-1}).
    - realized_vol_20 = sample std (ddof=1) of the last 20 log returns × sqrt(bars per year),
      a year being 365 days of bars for `interval` (crypto trades 24/7).
    """
    _require_talib()
    _validate_candles(frame)
    annualiser = math.sqrt(bars_per_year(interval))

    index = frame.index
    n = len(frame)
    close = pd.Series(frame["close"].to_numpy(dtype=np.float64), index=index, copy=False)
    high = pd.Series(frame["high"].to_numpy(dtype=np.float64), index=index, copy=False)
    low = pd.Series(frame["low"].to_numpy(dtype=np.float64), index=index, copy=False)
    volume = pd.Series(frame["volume"].to_numpy(dtype=np.float64), index=index, copy=False)

    # MACD and Bollinger straight from TA-Lib: pandas-ta would delegate to these very calls
    # (same values, checked by the tests) but its multi-column wrappers build and rename frames,
    # which cost 7x the maths and put the whole indicator pass over 2x TA-Lib alone.
    closes_f64 = close.to_numpy()
    macd, macd_signal, macd_hist = talib.MACD(
        closes_f64, fastperiod=12, slowperiod=26, signalperiod=9
    )
    bb_upper, bb_middle, bb_lower = talib.BBANDS(
        closes_f64, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=talib.MA_Type.SMA
    )
    closes = close.to_numpy()
    ret = np.full(n, np.nan)
    ret[1:] = closes[1:] / closes[:-1] - 1.0
    log_ret = np.full(n, np.nan)
    log_ret[1:] = np.log(closes[1:] / closes[:-1])
    # TA-Lib's VAR is the population variance of the window; × w/(w-1) makes it the sample
    # variance. Its sliding sums can round a flat window to a hair below 0, hence the clamp.
    window = REALIZED_VOL_WINDOW
    population_var = talib.VAR(log_ret, timeperiod=window, nbdev=1.0)
    realized_vol = np.sqrt(np.maximum(population_var * window / (window - 1), 0.0)) * annualiser

    columns: dict[str, FloatArray] = {
        "rsi_14": _values_or_nan(ta.rsi(close, length=14, talib=True), n),
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "ema_20": _values_or_nan(ta.ema(close, length=20, talib=True), n),
        "ema_50": _values_or_nan(ta.ema(close, length=50, talib=True), n),
        "ema_200": _values_or_nan(ta.ema(close, length=200, talib=True), n),
        "bb_upper": bb_upper,
        "bb_middle": bb_middle,
        "bb_lower": bb_lower,
        "atr_14": _values_or_nan(ta.atr(high, low, close, length=14, talib=True), n),
        "volume_sma_20": _values_or_nan(ta.sma(volume, length=20, talib=True), n),
        "ret_1": ret,
        "log_ret_1": log_ret,
        "realized_vol_20": realized_vol,
    }
    # Recomputing over a frame that already has the columns replaces them.
    base = frame.drop(columns=[c for c in INDICATOR_COLUMNS if c in frame.columns])
    # One constructor call without copies: concat or column-by-column inserts cost several
    # times the indicator maths itself on a long series.
    return pd.DataFrame({**{c: base[c] for c in base.columns}, **columns}, index=index, copy=False)


SNAPSHOT_INDICATOR_COLUMNS = tuple(c for c in INDICATOR_COLUMNS if c not in ("ret_1", "log_ret_1"))
"""The indicator columns a snapshot carries as fields of its own (returns go into its history)."""
_SNAPSHOT_SCALARS = (*CANDLE_COLUMNS, *SNAPSHOT_INDICATOR_COLUMNS)


class IndicatorTable:
    """The indicator frame as numpy arrays, so that building a snapshot per bar (thousands per
    backtest) costs array indexing instead of pandas row lookups."""

    def __init__(
        self,
        ind_frame: pd.DataFrame,
        *,
        symbol: str,
        interval: str,
        source: str,
        first_bar: int = 0,
    ) -> None:
        """`first_bar`: position of the frame's first row in the full series, when the frame
        is a trailing slice of it (it only shifts `bars_of_history`)."""
        missing = [c for c in (*CANDLE_COLUMNS, *INDICATOR_COLUMNS) if c not in ind_frame.columns]
        if missing:
            raise ValueError(
                f"ind_frame: missing column(s) {missing}; build it with compute_indicators()"
            )
        if not isinstance(ind_frame.index, pd.DatetimeIndex):
            raise ValueError("ind_frame.index: expected a DatetimeIndex of candle open times")
        self.symbol = symbol
        self.interval = interval
        self.source = source
        self.first_bar = first_bar
        # Epoch microseconds, turned into a datetime only for the bars actually snapshotted:
        # converting a whole long index up front costs more than a year of snapshots.
        self._times_us = ind_frame.index.as_unit("us").asi8.copy()
        self._col: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {
            c: ind_frame[c].to_numpy(dtype=np.float64, copy=True)
            for c in (*CANDLE_COLUMNS, *INDICATOR_COLUMNS)
        }

    def __len__(self) -> int:
        return len(self._times_us)

    def time_at(self, position: int) -> datetime:
        return _EPOCH + timedelta(microseconds=int(self._times_us[position]))

    def _position(self, at: int | None) -> int:
        return self._check_position(at, len(self._times_us))

    @staticmethod
    def _check_position(at: int | None, n: int) -> int:
        if at is None:
            at = n - 1
        if not isinstance(at, int | np.integer) or isinstance(at, bool):
            raise TypeError(f"at: expected an integer bar position, got {type(at).__name__}")
        if not -n <= at < n:
            raise IndexError(f"at: bar position {at} outside the {n}-bar frame")
        return int(at) % n

    def snapshot(self, at: int | None = None) -> IndicatorSnapshot:
        """Indicator values at bar `at` (inclusive) and a summary of the bars before it.

        Windows of N bars end at the decision bar: return_N_bars = close_t / close_{t-N} - 1,
        high_N_bars = max(high_{t-N+1..t}), closes_last_12 = close_{t-11..t},
        ema20_slope_5_bars = ema20_t / ema20_{t-5} - 1. bars_above_ema200_of_last_50 counts
        bars in t-49..t with close > EMA200 among those where EMA200 is defined (EMA200 starts
        at bar 200, so right after the warm-up fewer than 50 bars can be counted).
        """
        t = self._position(at)
        bars = self.first_bar + t + 1
        if bars < MIN_HISTORY_BARS:
            raise InsufficientHistoryError(bars)
        c = self._col
        close = c["close"]
        high = c["high"]
        low = c["low"]
        ema20 = c["ema_20"]
        ema200 = c["ema_200"]
        w50 = slice(t - 49, t + 1)
        ema200_window = ema200[w50]
        defined = ~np.isnan(ema200_window)

        values: dict[str, float] = {name: float(c[name][t]) for name in _SNAPSHOT_SCALARS}
        history: dict[str, float] = {
            "return_1_bar": float(c["ret_1"][t]),
            "return_24_bars": float(close[t] / close[t - 24] - 1.0),
            "return_72_bars": float(close[t] / close[t - 72] - 1.0),
            "high_24_bars": float(high[t - 23 : t + 1].max()),
            "low_24_bars": float(low[t - 23 : t + 1].min()),
            "high_72_bars": float(high[t - 71 : t + 1].max()),
            "low_72_bars": float(low[t - 71 : t + 1].min()),
            "ema20_slope_5_bars": float(ema20[t] / ema20[t - 5] - 1.0),
        }
        closes = close[t - 11 : t + 1].tolist()
        for name, value in (*values.items(), *history.items()):
            if not math.isfinite(value):
                raise IndicatorValueError(
                    f"{name}: {value} at bar {t} ({self.time_at(t).isoformat()}) for "
                    f"{self.symbol} {self.interval}; the indicator frame has a gap or bad input"
                )
        return IndicatorSnapshot(
            symbol=self.symbol,
            interval=self.interval,
            as_of=self.time_at(t),
            bars_of_history=bars,
            source=self.source,
            **values,
            history=RecentHistory(
                **history,
                closes_last_12=closes,
                bars_above_ema200_of_last_50=int(
                    np.count_nonzero(close[w50][defined] > ema200_window[defined])
                ),
            ),
        )


def make_snapshot(
    ind_frame: pd.DataFrame,
    *,
    symbol: str,
    interval: str,
    source: str,
    at: int | None = None,
) -> IndicatorSnapshot:
    """One snapshot from an indicator frame. For many bars build an `IndicatorTable` once and
    call `.snapshot(at)`; this converts only the trailing bars the snapshot reads."""
    n = len(ind_frame)
    position = IndicatorTable._check_position(at, n)
    if position + 1 < MIN_HISTORY_BARS:
        raise InsufficientHistoryError(position + 1)
    first = position + 1 - SNAPSHOT_LOOKBACK_BARS
    table = IndicatorTable(
        ind_frame.iloc[first : position + 1],
        symbol=symbol,
        interval=interval,
        source=source,
        first_bar=first,
    )
    return table.snapshot()
