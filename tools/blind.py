"""Blind mode: what the agents see of one decision, with the asset's identity masked.

The desk sees an anonymous ticker (`ASSET`), prices rebased so that the first of the last 12
closes is 100, times relative to the decision (the decision moment is shown as
`BLIND_NOW`, 2000-01-01 00:00 UTC, so a bar is "1 h before now", never a real date) and
headlines with coin names and tickers replaced. Fills, accounting and every export stay in
real prices and times: the caller maps the desk's prices back with `unprice`.

The masking is per decision (it depends only on that decision's snapshot and time), so a
resumed backtest sees exactly what an uninterrupted one saw.

Limits, said plainly: supply figures (e.g. a 21M cap) and headline content can still hint at
the asset; blind mode removes names, price levels and dates, not every clue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tools.sentiment import ASSET_NAMES, SentimentInputs, base_asset
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import TokenomicsInputs

BLIND_SYMBOL = "ASSET"
BLIND_NOW = datetime(2000, 1, 1, tzinfo=UTC)
BLIND_BASE = 100.0

_PRICE_FIELDS = (
    "open",
    "high",
    "low",
    "close",
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
)
_HISTORY_PRICE_FIELDS = ("high_24_bars", "low_24_bars", "high_72_bars", "low_72_bars")


def _names_pattern(words: set[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Blinder:
    symbol: str
    """The real symbol (never shown)."""
    factor: float
    """Shown price = real price × factor."""
    now: datetime
    """The real decision time, shown as `BLIND_NOW`."""

    @classmethod
    def for_decision(cls, snap: IndicatorSnapshot, now: datetime) -> Blinder:
        first = snap.history.closes_last_12[0] if snap.history.closes_last_12 else snap.close
        if first <= 0:
            raise ValueError(f"blind: cannot rebase a non-positive price {first}")
        return cls(symbol=snap.symbol, factor=BLIND_BASE / first, now=now)

    def price(self, value: float) -> float:
        return value * self.factor

    def unprice(self, value: float) -> float:
        return value / self.factor

    def time(self, value: datetime) -> datetime:
        return BLIND_NOW + (value - self.now)

    def text(self, value: str) -> str:
        """Coin names and tickers masked: this asset → ASSET, any other → COIN."""
        own = base_asset(self.symbol)
        own_words = {own, self.symbol, *ASSET_NAMES.get(own, ())}
        others = {k for k in ASSET_NAMES if k != own} | {
            n for k, names in ASSET_NAMES.items() if k != own for n in names
        }
        masked = _names_pattern(own_words).sub(BLIND_SYMBOL, value)
        return _names_pattern(others).sub("COIN", masked)

    def snapshot(self, snap: IndicatorSnapshot) -> IndicatorSnapshot:
        history = snap.history.model_copy(
            update={
                **{f: self.price(getattr(snap.history, f)) for f in _HISTORY_PRICE_FIELDS},
                "closes_last_12": [self.price(c) for c in snap.history.closes_last_12],
            }
        )
        return snap.model_copy(
            update={
                **{f: self.price(getattr(snap, f)) for f in _PRICE_FIELDS},
                "symbol": BLIND_SYMBOL,
                "as_of": self.time(snap.as_of),
                "history": history,
            }
        )

    def sentiment(self, inputs: SentimentInputs) -> SentimentInputs:
        return inputs.model_copy(
            update={
                "symbol": BLIND_SYMBOL,
                "source": self.text(inputs.source),
                "as_of": self.time(inputs.as_of) if inputs.as_of else None,
                "fear_greed_as_of": (
                    self.time(inputs.fear_greed_as_of) if inputs.fear_greed_as_of else None
                ),
                "headlines_note": self.text(inputs.headlines_note or "") or None,
                "headlines": [
                    h.model_copy(
                        update={
                            "title": self.text(h.title),
                            "published_at": self.time(h.published_at) if h.published_at else None,
                        }
                    )
                    for h in inputs.headlines
                ],
            }
        )

    def tokenomics(self, inputs: TokenomicsInputs) -> TokenomicsInputs:
        return inputs.model_copy(
            update={
                "symbol": BLIND_SYMBOL,
                "asset": BLIND_SYMBOL,
                "source": self.text(inputs.source),
                "market_cap_usd": (
                    self.price(inputs.market_cap_usd) if inputs.market_cap_usd else None
                ),
                "fdv_usd": self.price(inputs.fdv_usd) if inputs.fdv_usd else None,
                "notes": [self.text(n) for n in inputs.notes],
                "unlocks": [self.text(u) for u in inputs.unlocks],
                "as_of": self.time(inputs.as_of) if inputs.as_of else None,
            }
        )
