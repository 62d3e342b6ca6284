"""Benchmarks: `python -m bench [bench_<area> ...]`.

The real Binance candles live outside the repo (see ../shared/data/real/PROVENANCE.md), at the
same place tests/conftest.py looks, overridable with CRYPTOFIRM_REAL_DATA."""

from __future__ import annotations

import os
from pathlib import Path

REAL_DATA_DIR = Path(
    os.environ.get(
        "CRYPTOFIRM_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
    )
)
REAL_BTC_1H = REAL_DATA_DIR / "NIC-project-team__TradingStrategyGA" / "BTC_USDT-1h.feather"
