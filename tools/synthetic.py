"""A seeded synthetic candle feed that looks like a crypto market, for offline work.

Returns follow a GARCH(1,1) variance with Student-t shocks (volatility clusters, fat tails)
and a two-state Markov regime: *trending* (a persistent drift) or *ranging* (mean reversion to
a slowly moving anchor). Prices start near a reference level per symbol so BTC looks like BTC.
The same (seed, symbol, interval, start, bars) always gives the same candles; the data is
always labelled `synthetic` and never written to the candle store.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

from tools.candle_frame import FRAME_COLUMNS
from tools.intervals import bars_per_year, interval_ms

SYNTHETIC_SOURCE = "synthetic"

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
REFERENCE_PULL = 0.001  # weak pull back to the reference level so prices stay plausible
BAND_LOG_WIDTH = math.log(2.0)  # beyond ×/÷2 of the reference level …
BAND_PULL = 0.05  # … prices are pulled back this much harder per bar
STUDENT_DOF = 5.0
MAX_VAR_RATIO = 16.0  # bar variance at most 16× (volatility 4×) its long-run level


def reference_price(symbol: str) -> float:
    base = symbol.upper()
    for quote in STABLE_QUOTES:
        if base.endswith(quote) and len(base) > len(quote):
            base = base[: -len(quote)]
            break
    return REFERENCE_PRICES.get(base, DEFAULT_REFERENCE_PRICE)


def _rng(seed: int, symbol: str, interval: str, start_ms: int) -> np.random.Generator:
    key = f"{seed}:{symbol.upper()}:{interval}:{start_ms}".encode()
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def generate_candles(
    symbol: str, interval: str, start_ms: int, bars: int, *, seed: int = 42
) -> pd.DataFrame:
    """`bars` consecutive candles from `start_ms` (aligned down to the interval) as a candle
    frame (int64 `open_time` in ms plus float OHLCV)."""
    if bars < 0:
        raise ValueError(f"bars must be ≥ 0, got {bars}")
    step = interval_ms(interval)
    start_ms -= start_ms % step
    rng = _rng(seed, symbol, interval, start_ms)
    bar_var = ANNUAL_VOL**2 / bars_per_year(interval)
    omega = bar_var * (1.0 - GARCH_ALPHA - GARCH_BETA)
    t_scale = math.sqrt((STUDENT_DOF - 2.0) / STUDENT_DOF)  # unit-variance Student-t

    shocks = rng.standard_t(STUDENT_DOF, size=bars) * t_scale
    regime_draws = rng.random(bars)
    trend_signs = rng.choice([-1.0, 1.0], size=bars)
    wick_draws = np.abs(rng.standard_normal((2, bars)))
    volume_noise = rng.lognormal(0.0, 0.35, size=bars)

    log_ref = math.log(reference_price(symbol))
    log_price = log_ref + rng.normal(0.0, 0.15)
    anchor = log_price
    variance = bar_var
    trending = bool(rng.random() < 0.5)
    direction = 1.0 if rng.random() < 0.5 else -1.0
    eps_prev = 0.0

    closes = np.empty(bars)
    opens = np.empty(bars)
    sigmas = np.empty(bars)
    for i in range(bars):
        stay = TREND_STAY if trending else RANGE_STAY
        if regime_draws[i] > stay:
            trending = not trending
            direction = trend_signs[i]
            anchor = log_price
        # Capped so one fat-tailed shock cannot blow the variance up for hundreds of bars.
        variance = min(
            omega + GARCH_ALPHA * eps_prev**2 + GARCH_BETA * variance, MAX_VAR_RATIO * bar_var
        )
        sigma = math.sqrt(variance)
        if trending:
            drift = direction * TREND_DRIFT_IN_VOLS * sigma
        else:
            drift = RANGE_PULL * (anchor - log_price)
            anchor += 0.01 * (log_price - anchor)
        deviation = log_ref - log_price
        # Beyond the band the pull stiffens, so no seed wanders to an absurd price level.
        excess = max(0.0, abs(deviation) - BAND_LOG_WIDTH)
        drift += REFERENCE_PULL * deviation + BAND_PULL * math.copysign(excess, deviation)
        eps_prev = sigma * shocks[i]
        opens[i] = log_price
        log_price += drift + eps_prev
        closes[i] = log_price
        sigmas[i] = sigma

    open_px = np.exp(opens)
    close_px = np.exp(closes)
    high_px = np.maximum(open_px, close_px) * np.exp(0.5 * sigmas * wick_draws[0])
    low_px = np.minimum(open_px, close_px) * np.exp(-0.5 * sigmas * wick_draws[1])
    # Volume rises with the size of the move relative to normal volatility, as on exchanges.
    base_volume = 2_000_000.0 / reference_price(symbol) * (step / 3_600_000)
    move = np.abs(closes - opens) / math.sqrt(bar_var)
    volume = base_volume * (0.6 + 0.5 * move) * volume_noise

    frame = pd.DataFrame(
        {
            "open_time": start_ms + step * np.arange(bars, dtype="int64"),
            "open": open_px,
            "high": high_px,
            "low": low_px,
            "close": close_px,
            "volume": volume,
        }
    )
    return frame.loc[:, list(FRAME_COLUMNS)]
