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
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd
import pandas_ta as ta
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


def _series_or_nan(result: pd.Series | None, index: pd.Index) -> pd.Series:
    """pandas-ta returns None (not NaNs) when the series is shorter than the window."""
    if result is None:
        return pd.Series(np.nan, index=index, dtype=np.float64)
    return result.astype(np.float64)


def _frame_columns_or_nan(result: pd.DataFrame | None, index: pd.Index, n: int) -> list[pd.Series]:
    if result is None:
        return [pd.Series(np.nan, index=index, dtype=np.float64) for _ in range(n)]
    return [result.iloc[:, i].astype(np.float64) for i in range(n)]


def compute_indicators(frame: pd.DataFrame, interval: str = "1h") -> pd.DataFrame:
    """Return a copy of `frame` with the `INDICATOR_COLUMNS` added (NaN during warm-up).

    - rsi_14, ema_*, atr_14, macd 12/26/9, Bollinger 20/2 (population std, as TA-Lib),
      volume_sma_20: pandas-ta with TA-Lib underneath.
    - ret_1 = close_t / close_{t-1} - 1; log_ret_1 = ln(close_t / close_{t-1}).
    - realized_vol_20 = sample std (ddof=1) of the last 20 log returns × sqrt(bars per year),
      a year being 365 days of bars for `interval` (crypto trades 24/7).
    """
    _require_talib()
    _validate_candles(frame)
    annualiser = math.sqrt(bars_per_year(interval))

    close = frame["close"].astype(np.float64)
    high = frame["high"].astype(np.float64)
    low = frame["low"].astype(np.float64)
    volume = frame["volume"].astype(np.float64)
    index = frame.index

    macd, macd_hist, macd_signal = _frame_columns_or_nan(
        ta.macd(close, fast=12, slow=26, signal=9, talib=True), index, 3
    )
    bb_lower, bb_middle, bb_upper = _frame_columns_or_nan(
        ta.bbands(close, length=20, lower_std=2.0, upper_std=2.0, talib=True), index, 3
    )
    log_ret = pd.Series(np.log(close.to_numpy()), index=index).diff()

    out = frame.copy()
    out["rsi_14"] = _series_or_nan(ta.rsi(close, length=14, talib=True), index)
    out["macd"] = macd
    out["macd_signal"] = macd_signal
    out["macd_hist"] = macd_hist
    out["ema_20"] = _series_or_nan(ta.ema(close, length=20, talib=True), index)
    out["ema_50"] = _series_or_nan(ta.ema(close, length=50, talib=True), index)
    out["ema_200"] = _series_or_nan(ta.ema(close, length=200, talib=True), index)
    out["bb_upper"] = bb_upper
    out["bb_middle"] = bb_middle
    out["bb_lower"] = bb_lower
    out["atr_14"] = _series_or_nan(ta.atr(high, low, close, length=14, talib=True), index)
    out["volume_sma_20"] = _series_or_nan(ta.sma(volume, length=20, talib=True), index)
    out["ret_1"] = close.pct_change(fill_method=None)
    out["log_ret_1"] = log_ret
    out["realized_vol_20"] = log_ret.rolling(REALIZED_VOL_WINDOW).std(ddof=1) * annualiser
    return out


_SNAPSHOT_SCALARS = (
    *CANDLE_COLUMNS,
    *(c for c in INDICATOR_COLUMNS if c not in ("ret_1", "log_ret_1")),
)


class IndicatorTable:
    """The indicator frame as numpy arrays, so that building a snapshot per bar (thousands per
    backtest) costs array indexing instead of pandas row lookups."""

    def __init__(self, ind_frame: pd.DataFrame, *, symbol: str, interval: str, source: str):
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
        self._times = ind_frame.index.tz_convert(UTC).to_pydatetime()
        self._col: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {
            c: ind_frame[c].to_numpy(dtype=np.float64, copy=True)
            for c in (*CANDLE_COLUMNS, *INDICATOR_COLUMNS)
        }

    def __len__(self) -> int:
        return len(self._times)

    def _position(self, at: int | None) -> int:
        n = len(self._times)
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
        bars = t + 1
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
                    f"{name}: {value} at bar {t} ({self._times[t].isoformat()}) for "
                    f"{self.symbol} {self.interval}; the indicator frame has a gap or bad input"
                )
        return IndicatorSnapshot(
            symbol=self.symbol,
            interval=self.interval,
            as_of=self._times[t],
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
    call `.snapshot(at)`: this helper converts the whole frame on every call."""
    return IndicatorTable(ind_frame, symbol=symbol, interval=interval, source=source).snapshot(at)
