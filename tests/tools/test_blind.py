"""Blind mode masks identity, price level and dates — and maps prices back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tools.blind import BLIND_NOW, BLIND_SYMBOL, Blinder
from tools.sentiment import Headline, SentimentInputs
from tools.snapshot import IndicatorSnapshot, RecentHistory
from tools.tokenomics import PointInTimeTokenomicsProvider

NOW = datetime(2023, 6, 1, 13, tzinfo=UTC)


def snap() -> IndicatorSnapshot:
    closes = [27_000.0 + 10 * i for i in range(12)]
    return IndicatorSnapshot(
        symbol="BTCUSDT",
        interval="1h",
        as_of=NOW - timedelta(hours=1),
        bars_of_history=500,
        source="store",
        open=27_100.0,
        high=27_200.0,
        low=27_050.0,
        close=closes[-1],
        volume=100.0,
        rsi_14=55.0,
        macd=12.0,
        macd_signal=10.0,
        macd_hist=2.0,
        ema_20=27_050.0,
        ema_50=26_900.0,
        ema_200=26_000.0,
        bb_upper=27_400.0,
        bb_middle=27_050.0,
        bb_lower=26_700.0,
        atr_14=150.0,
        volume_sma_20=90.0,
        realized_vol_20=0.4,
        history=RecentHistory(
            return_1_bar=0.001,
            return_24_bars=0.01,
            return_72_bars=0.02,
            high_24_bars=27_300.0,
            low_24_bars=26_800.0,
            high_72_bars=27_500.0,
            low_72_bars=26_500.0,
            closes_last_12=closes,
            ema20_slope_5_bars=0.002,
            bars_above_ema200_of_last_50=40,
        ),
    )


def test_snapshot_is_rebased_renamed_and_relative() -> None:
    real = snap()
    blinder = Blinder.for_decision(real, NOW)
    seen = blinder.snapshot(real)
    assert seen.symbol == BLIND_SYMBOL
    assert seen.history.closes_last_12[0] == pytest.approx(100.0)
    assert seen.close / seen.ema_200 == pytest.approx(real.close / real.ema_200)
    assert seen.atr_14 / seen.close == pytest.approx(real.atr_14 / real.close)
    assert seen.rsi_14 == real.rsi_14 and seen.volume == real.volume
    assert seen.as_of == BLIND_NOW - timedelta(hours=1)
    assert blinder.unprice(seen.close) == pytest.approx(real.close)
    dumped = seen.model_dump_json()
    for value in (real.close, real.ema_200, real.bb_upper):
        assert str(int(value)) not in dumped


def test_headlines_and_tokenomics_are_masked() -> None:
    blinder = Blinder.for_decision(snap(), NOW)
    inputs = SentimentInputs(
        symbol="BTCUSDT",
        fear_greed=60,
        fear_greed_label="Greed",
        headlines=[
            Headline(title="Bitcoin and Ethereum rally as BTC ETF nears", published_at=NOW),
            Headline(title="Solana's outage", published_at=NOW - timedelta(days=1)),
        ],
        source="point-in-time",
        as_of=NOW - timedelta(hours=5),
        headlines_note="2 dated BTC headline(s) public in the 3 days before this decision",
    )
    seen = blinder.sentiment(inputs)
    titles = " ".join(h.title for h in seen.headlines)
    for name in ("Bitcoin", "BTC", "Ethereum", "Solana"):
        assert name.lower() not in titles.lower()
    assert "ASSET" in titles and "COIN" in titles
    assert seen.as_of == BLIND_NOW - timedelta(hours=5)
    assert "BTC" not in (seen.headlines_note or "")
    tok = PointInTimeTokenomicsProvider().get("BTCUSDT", snap().close, at=NOW)
    masked = blinder.tokenomics(tok)
    assert masked.asset == BLIND_SYMBOL and "BTC" not in " ".join(masked.notes)
    assert masked.market_cap_usd == pytest.approx(
        tok.circulating_supply * snap().close * blinder.factor
    )
