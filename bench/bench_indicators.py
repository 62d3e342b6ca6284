"""Indicator frame on the 58,419-bar real BTC 1h file against the same indicators computed
with TA-Lib directly, in the same run; plus the cost of one snapshot."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from bench import REAL_BTC_1H
from tools.indicators import IndicatorTable, compute_indicators, make_snapshot

REPEATS = 21


def _talib_only(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The same indicator set with TA-Lib on numpy arrays: the floor we compare against."""
    close = frame["close"].to_numpy()
    high = frame["high"].to_numpy()
    low = frame["low"].to_numpy()
    log_ret = np.diff(np.log(close), prepend=np.nan)
    return {
        "rsi": talib.RSI(close, 14),
        "macd": np.stack(talib.MACD(close, 12, 26, 9)),
        "ema20": talib.EMA(close, 20),
        "ema50": talib.EMA(close, 50),
        "ema200": talib.EMA(close, 200),
        "bb": np.stack(talib.BBANDS(close, 20, 2.0, 2.0, talib.MA_Type.SMA)),
        "atr": talib.ATR(high, low, close, 14),
        "vol_sma": talib.SMA(frame["volume"].to_numpy(), 20),
        "ret": np.diff(close, prepend=np.nan) / np.roll(close, 1),
        "log_ret": log_ret,
        "rv": talib.STDDEV(log_ret, 20, 1.0) * np.sqrt(20 / 19) * np.sqrt(8760),
    }


def _interleaved(a: Callable[[], object], b: Callable[[], object]) -> tuple[float, float, float]:
    """Medians of a and b and of the per-round ratio a/b, run alternately so that load from
    other processes on the machine hits both alike."""
    times_a, times_b, ratios = [], [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        a()
        middle = time.perf_counter()
        b()
        ended = time.perf_counter()
        times_a.append(middle - started)
        times_b.append(ended - middle)
        ratios.append((middle - started) / (ended - middle))
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def main() -> None:
    if not REAL_BTC_1H.is_file():
        print(f"skipped: real data not found at {REAL_BTC_1H}")
        return
    frame = pd.read_feather(REAL_BTC_1H).set_index("date")
    print(f"bars: {len(frame):,}; repeats: {REPEATS} (median)")

    ours, floor, ratio = _interleaved(
        lambda: compute_indicators(frame, "1h"), lambda: _talib_only(frame)
    )
    print(f"compute_indicators (pandas-ta over TA-Lib, DataFrame out): {ours * 1e3:8.2f} ms")
    print(f"TA-Lib directly on numpy arrays (no frame built):          {floor * 1e3:8.2f} ms")
    print(f"ratio (median of {REPEATS} alternating rounds): {ratio:.2f}x (target <= 2x)")

    ind = compute_indicators(frame, "1h")
    table = IndicatorTable(ind, symbol="BTCUSDT", interval="1h", source="store")
    positions = range(200, 200 + 9_000)  # about a year of 1h decisions
    per_call = []
    for _ in range(3):
        started = time.perf_counter()
        for at in positions:
            table.snapshot(at)
        per_call.append((time.perf_counter() - started) / len(positions))
    print(
        f"IndicatorTable.snapshot: {statistics.median(per_call) * 1e3:.4f} ms/call (target < 0.2)"
    )
    started = time.perf_counter()
    table_build = IndicatorTable(ind, symbol="BTCUSDT", interval="1h", source="store")
    print(f"IndicatorTable build (once per run): {(time.perf_counter() - started) * 1e3:.1f} ms")
    del table_build
    started = time.perf_counter()
    for at in range(200, 220):
        make_snapshot(ind, symbol="BTCUSDT", interval="1h", source="store", at=at)
    print(
        "make_snapshot (converts the frame each call): "
        f"{(time.perf_counter() - started) / 20 * 1e3:.2f} ms/call"
    )


if __name__ == "__main__":
    main()
