"""Synthetic feed: deterministic per seed, OHLC-consistent, plausible, clustered volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.candle_frame import validate_candles
from tools.synthetic import generate_candles, reference_price

T0 = 1_704_067_200_000
HOUR = 3_600_000


def test_same_seed_same_candles_other_seed_differs() -> None:
    a = generate_candles("BTCUSDT", "1h", T0, 500, seed=7)
    b = generate_candles("BTCUSDT", "1h", T0, 500, seed=7)
    c = generate_candles("BTCUSDT", "1h", T0, 500, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"], c["close"])


def test_ohlc_consistent_and_volumes_positive() -> None:
    frame = generate_candles("ETHUSDT", "15m", T0, 5_000, seed=1)
    report = validate_candles(frame, "15m", now=T0 + 10_000 * 15 * 60_000)
    assert report.rejected == 0 and len(report.valid) == 5_000
    assert (frame["volume"] > 0).all()
    assert (frame["open"].iloc[1:].to_numpy() == frame["close"].iloc[:-1].to_numpy()).all()
    assert frame["open_time"].diff().dropna().eq(15 * 60_000).all()


@pytest.mark.parametrize(
    ("symbol", "low", "high"), [("BTCUSDT", 14_000, 126_000), ("ETHUSDT", 730, 6_600)]
)
def test_prices_are_plausible_for_the_symbol(symbol: str, low: float, high: float) -> None:
    for seed in range(20):
        closes = generate_candles(symbol, "1h", T0, 4_000, seed=seed)["close"]
        assert low < closes.min() and closes.max() < high
    assert reference_price("BTCUSDT") > 10 * reference_price("ETHUSDT")


def test_volatility_clusters_and_tails_are_fat() -> None:
    closes = generate_candles("BTCUSDT", "1h", T0, 20_000, seed=3)["close"].to_numpy()
    returns = np.diff(np.log(closes))
    size = np.abs(returns)
    # GARCH-like: big moves follow big moves (i.i.d. returns would give ~0 here).
    assert np.corrcoef(size[:-1], size[1:])[0, 1] > 0.1
    kurtosis = ((returns - returns.mean()) ** 4).mean() / returns.var() ** 2
    assert kurtosis > 4.0
    annual_vol = returns.std() * np.sqrt(24 * 365)
    assert 0.3 < annual_vol < 1.2


def test_regimes_alternate_between_trending_and_ranging() -> None:
    closes = generate_candles("BTCUSDT", "1h", T0, 20_000, seed=5)["close"].to_numpy()
    windows = np.log(closes[::200])
    moves = np.abs(np.diff(windows))
    # Both persistent trends (large 200-bar moves) and quiet stretches occur.
    assert moves.max() > 4 * np.median(moves)


def test_start_is_aligned_and_negative_bars_refused() -> None:
    frame = generate_candles("BTCUSDT", "1h", T0 + 123_456, 3)
    assert frame["open_time"].iloc[0] == T0
    with pytest.raises(ValueError, match="bars"):
        generate_candles("BTCUSDT", "1h", T0, -1)


def test_a_bar_does_not_depend_on_how_many_bars_are_asked_for() -> None:
    """The issue: the same 4h bar closed at 45,089 with limit=500 and 28,209 with limit=2."""
    end = T0 + 600 * 4 * HOUR
    long = generate_candles("BTCUSDT", "4h", end - 500 * 4 * HOUR, 500)
    short = generate_candles("BTCUSDT", "4h", end - 2 * 4 * HOUR, 2)
    pd.testing.assert_frame_equal(long.tail(2).reset_index(drop=True), short)


@settings(max_examples=60, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=5_000),
    bars=st.integers(min_value=1, max_value=300),
    interval=st.sampled_from(["15m", "1h", "4h", "1d"]),
    seed=st.integers(min_value=0, max_value=3),
)
def test_candle_values_depend_only_on_symbol_interval_seed_and_time(
    offset: int, bars: int, interval: str, seed: int
) -> None:
    step = {"15m": 15 * 60_000, "1h": HOUR, "4h": 4 * HOUR, "1d": 24 * HOUR}[interval]
    whole = generate_candles("ETHUSDT", interval, T0, 5_400, seed=seed)
    window = generate_candles("ETHUSDT", interval, T0 + offset * step, bars, seed=seed)
    expected = whole.iloc[offset : offset + bars].reset_index(drop=True)
    pd.testing.assert_frame_equal(window, expected)
