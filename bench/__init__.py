"""Benchmarks: `python -m bench [bench_<area> ...]`.

The real Binance candles live outside the repo (see ../shared/data/real/PROVENANCE.md), at the
same place tests/conftest.py looks, overridable with REAL_DATA_DIR (core.settings)."""

from __future__ import annotations

from core.settings import get_settings

REAL_DATA_DIR = get_settings().real_data_dir
REAL_BTC_1H = REAL_DATA_DIR / "NIC-project-team__TradingStrategyGA" / "BTC_USDT-1h.feather"
