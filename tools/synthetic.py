"""A seeded synthetic candle feed that looks like a crypto market, for offline work.

A candle's values depend only on (symbol, interval, seed, open time), never on the window
asked for: the same bar is the same whether 2 or 5,000 bars are requested. The price is a
slow deterministic *anchor* (a few long waves around a per-symbol reference level, in real
time so every interval of a symbol shares it) times a deviation simulated in fixed chunks of
`CHUNK_BARS` bars counted from the Unix epoch. Each chunk has its own random stream (keyed by
seed, symbol, interval and chunk number) and is pinned to the anchor at both ends (a
Brownian bridge), so chunks join without a jump. Inside a chunk, returns follow a GARCH(1,1)
variance with Student-t shocks (volatility clusters, fat tails) and a two-state regime:
*trending* (a persistent drift) or *ranging* (mean reversion). The data is always labelled
`synthetic`.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np
import pandas as pd

from tools.candle_frame import FRAME_COLUMNS
from tools.intervals import bars_per_year, interval_ms
from tools.provenance import SYNTHETIC_SOURCE

__all__ = ["SYNTHETIC_SOURCE", "generate_candles", "reference_price"]

# Rough 2023–24 levels: only there to make the scale plausible, not to track the market.
REFERENCE_PRICES: dict[str, float] = {
    "BTC": 42_000.0,
    "ETH": 2_200.0,
    "BNB": 320.0,
    "SOL": 100.0,
    "XRP": 0.55,
    "ADA": 0.50,
    "DOGE": 0.08,
    "AVAX": 30.0,
    "DOT": 6.5,
    "LINK": 15.0,
    "LTC": 75.0,
    "MATIC": 0.85,
}
DEFAULT_REFERENCE_PRICE = 10.0
STABLE_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD")

ANNUAL_VOL = 0.60  # long-run annualised volatility of a major coin
GARCH_ALPHA = 0.08
GARCH_BETA = 0.90
TREND_STAY = 0.995  # per-bar probability of staying in the trending regime
RANGE_STAY = 0.993
TREND_DRIFT_IN_VOLS = 0.06  # trending drift per bar, in units of the bar's volatility
RANGE_PULL = 0.02  # per-bar mean reversion towards the anchor while ranging
STUDENT_DOF = 5.0
MAX_VAR_RATIO = 16.0  # bar variance at most 16× (volatility 4×) its long-run level
CHUNK_BARS = 1024
DAY_MS = 86_400_000
# (amplitude in log price, period in days) of the anchor's waves: at most ×/÷ e^0.55 ≈ 1.7.
ANCHOR_WAVES = ((0.30, 365.0), (0.17, 97.0), (0.08, 23.0))


def reference_price(symbol: str) -> float:
    base = symbol.upper()
    for quote in STABLE_QUOTES:
        if base.endswith(quote) and len(base) > len(quote):
            base = base[: -len(quote)]
            break
    return REFERENCE_PRICES.get(base, DEFAULT_REFERENCE_PRICE)


def _rng(*key: object) -> np.random.Generator:
    digest = hashlib.sha256(":".join(str(part) for part in key).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _log_anchor(times_ms: np.ndarray, symbol: str, seed: int) -> np.ndarray:
    """The slow deterministic level (log price) at each time; the same for every interval."""
    phases = _rng(seed, symbol.upper(), "anchor").uniform(0.0, 2 * math.pi, len(ANCHOR_WAVES))
    days = times_ms / DAY_MS
    level = np.full(len(days), math.log(reference_price(symbol)))
    for (amplitude, period), phase in zip(ANCHOR_WAVES, phases, strict=True):
        level += amplitude * np.sin(2 * math.pi * days / period + phase)
    return level


@lru_cache(maxsize=512)
def _chunk(
    seed: int, symbol: str, interval: str, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chunk `chunk`'s deviation from the anchor at its C+1 bar boundaries (0 at both ends),
    the per-bar volatility, wick draws and volume noise."""
    rng = _rng(seed, symbol.upper(), interval, chunk)
    size = CHUNK_BARS
    bar_var = ANNUAL_VOL**2 / bars_per_year(interval)
    omega = bar_var * (1.0 - GARCH_ALPHA - GARCH_BETA)
    t_scale = math.sqrt((STUDENT_DOF - 2.0) / STUDENT_DOF)  # unit-variance Student-t
    shocks = rng.standard_t(STUDENT_DOF, size=size) * t_scale
    regime_draws = rng.random(size)
    trend_signs = rng.choice([-1.0, 1.0], size=size)
    wicks = np.abs(rng.standard_normal((2, size)))
    volume_noise = rng.lognormal(0.0, 0.35, size=size)
    trending = bool(rng.random() < 0.5)
    direction = 1.0 if rng.random() < 0.5 else -1.0

    path = np.zeros(size + 1)
    sigmas = np.empty(size)
    variance, eps_prev, level = bar_var, 0.0, 0.0
    for i in range(size):
        if regime_draws[i] > (TREND_STAY if trending else RANGE_STAY):
            trending = not trending
            direction = trend_signs[i]
        # Capped so one fat-tailed shock cannot blow the variance up for hundreds of bars.
        variance = min(
            omega + GARCH_ALPHA * eps_prev**2 + GARCH_BETA * variance, MAX_VAR_RATIO * bar_var
        )
        sigma = math.sqrt(variance)
        drift = direction * TREND_DRIFT_IN_VOLS * sigma if trending else -RANGE_PULL * level
        eps_prev = sigma * shocks[i]
        level += drift + eps_prev
        path[i + 1] = level
        sigmas[i] = sigma
    bridge = path - np.linspace(0.0, 1.0, size + 1) * path[-1]  # pinned to 0 at both ends
    return bridge, sigmas, wicks, volume_noise


def generate_candles(
    symbol: str, interval: str, start_ms: int, bars: int, *, seed: int = 42
) -> pd.DataFrame:
    """`bars` consecutive candles from `start_ms` (aligned down to the interval) as a candle
    frame (int64 `open_time` in ms plus float OHLCV)."""
    if bars < 0:
        raise ValueError(f"bars must be ≥ 0, got {bars}")
    step = interval_ms(interval)
    first = start_ms // step
    numbers = np.arange(first, first + bars, dtype="int64")
    chunk_of, within = np.divmod(numbers, CHUNK_BARS)
    deviation_open = np.empty(bars)
    deviation_close = np.empty(bars)
    sigmas = np.empty(bars)
    wicks = np.empty((2, bars))
    noise = np.empty(bars)
    for chunk in np.unique(chunk_of):
        rows = np.flatnonzero(chunk_of == chunk)
        bridge, chunk_sigmas, chunk_wicks, chunk_noise = _chunk(
            seed, symbol.upper(), interval, int(chunk)
        )
        j = within[rows]
        deviation_open[rows] = bridge[j]
        deviation_close[rows] = bridge[j + 1]
        sigmas[rows] = chunk_sigmas[j]
        wicks[:, rows] = chunk_wicks[:, j]
        noise[rows] = chunk_noise[j]
    opens = _log_anchor(numbers * step, symbol, seed) + deviation_open
    closes = _log_anchor((numbers + 1) * step, symbol, seed) + deviation_close

    open_px = np.exp(opens)
    close_px = np.exp(closes)
    high_px = np.maximum(open_px, close_px) * np.exp(0.5 * sigmas * wicks[0])
    low_px = np.minimum(open_px, close_px) * np.exp(-0.5 * sigmas * wicks[1])
    # Volume rises with the size of the move relative to normal volatility, as on exchanges.
    bar_var = ANNUAL_VOL**2 / bars_per_year(interval)
    base_volume = 2_000_000.0 / reference_price(symbol) * (step / 3_600_000)
    move = np.abs(closes - opens) / math.sqrt(bar_var)
    volume = base_volume * (0.6 + 0.5 * move) * noise

    frame = pd.DataFrame(
        {
            "open_time": numbers * step,
            "open": open_px,
            "high": high_px,
            "low": low_px,
            "close": close_px,
            "volume": volume,
        }
    )
    return frame.loc[:, list(FRAME_COLUMNS)]
