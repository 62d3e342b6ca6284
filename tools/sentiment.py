"""Sentiment inputs for the sentiment analyst: the Crypto Fear & Greed index plus headlines.

Two providers behind one interface: `OfflineSentimentProvider` reads a fixture shipped with the
project (the default, so everything works without a network) and `LiveSentimentProvider` calls
the alternative.me API (`settings.fear_greed_url`) and, when configured, an RSS news feed.
The `source` field of the result says which one was used; it travels to every screen.

Headlines are text from outside the firm: prompts must treat them as untrusted data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

import httpx
from pydantic import BaseModel, Field, ValidationError

from core.settings import Settings

OFFLINE_FIXTURE = Path(__file__).resolve().parent / "data" / "sentiment_offline.json"


class Headline(BaseModel):
    title: str = Field(max_length=300)
    source: str = ""
    published_at: datetime | None = None


class SentimentInputs(BaseModel):
    symbol: str
    fear_greed: int = Field(ge=0, le=100, description="0 extreme fear … 100 extreme greed")
    fear_greed_label: str
    headlines: list[Headline] = Field(default_factory=list)
    source: str = Field(description="offline-fixture | live")
    as_of: datetime | None = None


class SentimentUnavailableError(RuntimeError):
    """A live feed failed; the message names the feed and the reason."""


class SentimentProvider(Protocol):
    name: str

    def get(self, symbol: str) -> SentimentInputs: ...


class _OfflineFile(BaseModel):
    fear_greed: int = Field(ge=0, le=100)
    fear_greed_label: str
    as_of: datetime
    headlines: dict[str, list[Headline]]


class OfflineSentimentProvider:
    """Reads `tools/data/sentiment_offline.json`: a fixed index value and sample headlines per
    base asset (`*` for any other). Deterministic, so backtests are repeatable."""

    name = "offline"

    def __init__(self, path: Path = OFFLINE_FIXTURE) -> None:
        try:
            self._data = _OfflineFile.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ValueError(f"sentiment fixture {path} is unreadable: {exc}") from exc

    def get(self, symbol: str) -> SentimentInputs:
        base = base_asset(symbol)
        headlines = self._data.headlines.get(base, self._data.headlines.get("*", []))
        return SentimentInputs(
            symbol=symbol,
            fear_greed=self._data.fear_greed,
            fear_greed_label=self._data.fear_greed_label,
            headlines=headlines,
            source="offline-fixture",
            as_of=self._data.as_of,
        )


class LiveSentimentProvider:
    """alternative.me Fear & Greed (`{"data": [{"value": "40", "value_classification": …}]}`)
    plus the titles of an optional RSS feed, filtered to the asset when it is mentioned."""

    name = "live"

    def __init__(
        self,
        fear_greed_url: str,
        *,
        news_rss_url: str | None = None,
        timeout_s: float = 10.0,
        max_headlines: int = 8,
    ) -> None:
        self.fear_greed_url = fear_greed_url
        self.news_rss_url = news_rss_url
        self.timeout_s = timeout_s
        self.max_headlines = max_headlines

    def get(self, symbol: str) -> SentimentInputs:
        with httpx.Client(timeout=self.timeout_s) as client:
            value, label, as_of = self._fear_greed(client)
            headlines = self._headlines(client, base_asset(symbol)) if self.news_rss_url else []
        return SentimentInputs(
            symbol=symbol,
            fear_greed=value,
            fear_greed_label=label,
            headlines=headlines,
            source="live",
            as_of=as_of,
        )

    def _fear_greed(self, client: httpx.Client) -> tuple[int, str, datetime | None]:
        try:
            response = client.get(self.fear_greed_url, params={"limit": 1})
            response.raise_for_status()
            latest = response.json()["data"][0]
            value = int(latest["value"])
            label = str(latest.get("value_classification", ""))
            stamp = latest.get("timestamp")
            as_of = datetime.fromtimestamp(int(stamp), UTC) if stamp else None
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise SentimentUnavailableError(
                f"fear & greed feed {self.fear_greed_url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not 0 <= value <= 100:
            raise SentimentUnavailableError(f"fear & greed value out of range: {value}")
        return value, label, as_of

    def _headlines(self, client: httpx.Client, base: str) -> list[Headline]:
        assert self.news_rss_url is not None
        try:
            response = client.get(self.news_rss_url)
            response.raise_for_status()
            root = ElementTree.fromstring(response.content)
        except (httpx.HTTPError, ElementTree.ParseError) as exc:
            raise SentimentUnavailableError(
                f"news feed {self.news_rss_url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        titles = [(item.findtext("title") or "").strip() for item in root.iter("item")]
        titles = [t for t in titles if t]
        names = {base.lower(), *_ASSET_NAMES.get(base, ())}
        relevant = [t for t in titles if any(n in t.lower() for n in names)] or titles
        return [
            Headline(title=t[:300], source=self.news_rss_url)
            for t in relevant[: self.max_headlines]
        ]


_ASSET_NAMES: dict[str, tuple[str, ...]] = {
    "BTC": ("bitcoin",),
    "ETH": ("ethereum", "ether"),
    "SOL": ("solana",),
    "BNB": ("binance coin", "bnb chain"),
    "XRP": ("ripple",),
    "ADA": ("cardano",),
    "DOGE": ("dogecoin",),
}

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "BTC", "ETH")


def base_asset(symbol: str) -> str:
    """`BTCUSDT` → `BTC`. Raises on a symbol with no known quote asset."""
    upper = symbol.upper()
    for quote in QUOTE_ASSETS:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)]
    raise ValueError(f"symbol {symbol!r} has no known quote asset ({', '.join(QUOTE_ASSETS)})")


def sentiment_provider_from_settings(settings: Settings) -> SentimentProvider:
    if settings.sentiment_provider == "offline":
        return OfflineSentimentProvider()
    if settings.sentiment_provider == "live":
        return LiveSentimentProvider(
            settings.fear_greed_url,
            news_rss_url=settings.news_rss_url,
        )
    raise ValueError(
        f"SENTIMENT_PROVIDER must be 'offline' or 'live', got {settings.sentiment_provider!r}"
    )
