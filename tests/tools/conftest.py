"""Fixtures for tests of `tools/`: the real BTC 1h candles as a frame, and slices of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def real_btc_1h_frame(real_btc_1h: Path) -> pd.DataFrame:
    """The whole real BTC/USDT 1h file (58,419 bars) indexed by UTC candle open time."""
    frame = pd.read_feather(real_btc_1h).set_index("date")
    return frame[["open", "high", "low", "close", "volume"]].astype("float64")


@pytest.fixture(scope="session")
def real_btc_1h_year(real_btc_1h_frame: pd.DataFrame) -> pd.DataFrame:
    """One calendar year (2023) of real BTC 1h bars plus the 200 bars before it as warm-up."""
    start = real_btc_1h_frame.index.searchsorted(pd.Timestamp("2023-01-01", tz="UTC"))
    end = real_btc_1h_frame.index.searchsorted(pd.Timestamp("2024-01-01", tz="UTC"))
    return real_btc_1h_frame.iloc[start - 200 : end]
