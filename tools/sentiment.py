"""Sentiment inputs for the sentiment analyst: the Crypto Fear & Greed index plus headlines.

Every provider answers `get(symbol, at=…)`: what was public at the decision time `at`, with its
own `as_of` and `source` (which travel to every screen and export).

- `PointInTimeSentimentProvider` (backtests and replays): the real daily Fear & Greed history
  (`FearGreedHistory`, the value dated at most `at` − 1 day) plus dated headlines from a
  `tools.headlines.HeadlineLoader`, shown only from their `available_at`. No headline public in
  the look-back window → an empty list and a note saying so, never today's headlines.
- `OfflineSentimentProvider`: a SAMPLE fixture for live analysis in the offline demo only
  (source `offline-sample`); it refuses a decision time before its own date.
- `LiveSentimentProvider`: the alternative.me API and an optional RSS feed, for live runs; it
  refuses a decision time in the past (it only knows today).

Headlines are text from outside the firm: prompts must treat them as untrusted data.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from xml.etree import ElementTree

import httpx
from pydantic import BaseModel, Field, ValidationError

from core.settings import Settings

if TYPE_CHECKING:
    from tools.headlines import HeadlineLoader

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
    source: str = Field(description="point-in-time | offline-sample | live")
    as_of: datetime | None = Field(
        default=None, description="the newest fact in these inputs (index stamp or headline)"
    )
    fear_greed_as_of: datetime | None = Field(
        default=None, description="the UTC day the index value is stamped for (00:00)"
    )
    headlines_note: str | None = Field(
        default=None, description="why the headline list is empty or what it covers"
    )


class SentimentUnavailableError(RuntimeError):
    """A live feed failed; the message names the feed and the reason."""


class SentimentProvider(Protocol):
    name: str

    def get(self, symbol: str, *, at: datetime | None = None) -> SentimentInputs:
        """What was public at `at` (None: now) about `symbol`'s base asset."""
        ...


class _OfflineFile(BaseModel):
    fear_greed: int = Field(ge=0, le=100)
    fear_greed_label: str
    as_of: datetime
    headlines: dict[str, list[Headline]]


class OfflineSentimentProvider:
    """Reads `tools/data/sentiment_offline.json`: a fixed SAMPLE index value and sample headlines
    per base asset (`*` for any other), for live analysis in the offline demo. A decision before
    the sample's date is refused: the sample would be news from its future."""

    name = "offline"

    def __init__(self, path: Path = OFFLINE_FIXTURE) -> None:
        try:
            self._data = _OfflineFile.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ValueError(f"sentiment fixture {path} is unreadable: {exc}") from exc

    def get(self, symbol: str, *, at: datetime | None = None) -> SentimentInputs:
        if at is not None and at < self._data.as_of:
            raise SentimentUnavailableError(
                f"the offline sentiment sample is dated {self._data.as_of:%Y-%m-%d}; it is not "
                f"shown to a decision at {at:%Y-%m-%d %H:%M} (use point-in-time history)"
            )
        base = base_asset(symbol)
        headlines = self._data.headlines.get(base, self._data.headlines.get("*", []))
        return SentimentInputs(
            symbol=symbol,
            fear_greed=self._data.fear_greed,
            fear_greed_label=self._data.fear_greed_label,
            headlines=headlines,
            source="offline-sample",
            as_of=self._data.as_of,
            fear_greed_as_of=self._data.as_of,
            headlines_note="SAMPLE headlines shipped with the project, not real news",
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

    def get(self, symbol: str, *, at: datetime | None = None) -> SentimentInputs:
        if at is not None and at < datetime.now(UTC) - LIVE_TOLERANCE:
            raise SentimentUnavailableError(
                f"the live sentiment feed only knows today; a decision at {at:%Y-%m-%d %H:%M} "
                "needs point-in-time history"
            )
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
            fear_greed_as_of=as_of,
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

ASSET_NAMES = _ASSET_NAMES
"""Base asset → its common names (lower case), for filtering and for blind-mode masking."""

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "BTC", "ETH")


def base_asset(symbol: str) -> str:
    """`BTCUSDT` → `BTC`. Raises on a symbol with no known quote asset."""
    upper = symbol.upper()
    for quote in QUOTE_ASSETS:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)]
    raise ValueError(f"symbol {symbol!r} has no known quote asset ({', '.join(QUOTE_ASSETS)})")


LIVE_TOLERANCE = timedelta(hours=2)
"""A live feed answers for `at` no older than this (a decision being taken now)."""

FEAR_GREED_FILE = Path("alternative.me__fear_greed") / "fear_greed_daily.csv"
PUBLICATION_LAG = timedelta(days=1)
"""alternative.me stamps a value at 00:00 UTC of its day without the publication minute: a
decision at `at` uses the value dated at most `at` − 1 day (see the data's PROVENANCE.md)."""


@dataclass(frozen=True)
class FearGreedReading:
    day: date
    value: int
    label: str

    @property
    def stamped_at(self) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=UTC)


class FearGreedHistory:
    """The daily index history (`date,value,classification`), queried point in time."""

    MAX_GAP_DAYS = 4
    """The newest value allowed may be this many days older than `at` − 1 day (the file has
    gaps of up to 3 days); beyond it the reading is refused as stale, not carried forward."""

    def __init__(self, readings: list[FearGreedReading], *, path: Path | None = None) -> None:
        if not readings:
            raise ValueError(f"fear & greed history {path or ''} has no rows")
        self._readings = sorted(readings, key=lambda r: r.day)
        self._days = [r.day for r in self._readings]
        self.path = path

    @classmethod
    def from_csv(cls, path: Path) -> FearGreedHistory:
        readings: list[FearGreedReading] = []
        try:
            with path.open(newline="") as fh:
                for line, row in enumerate(csv.DictReader(fh), start=2):
                    readings.append(_reading(row, line, path))
        except OSError as exc:
            raise SentimentUnavailableError(f"fear & greed history {path}: {exc}") from exc
        return cls(readings, path=path)

    @property
    def first_day(self) -> date:
        return self._days[0]

    @property
    def last_day(self) -> date:
        return self._days[-1]

    def at(self, at: datetime) -> FearGreedReading:
        """The newest value dated at most `at` − 1 day; raises when none is (or it is stale)."""
        latest_day = (at - PUBLICATION_LAG).date()
        pos = bisect_right(self._days, latest_day) - 1
        if pos < 0:
            raise SentimentUnavailableError(
                f"fear & greed history starts {self.first_day}; nothing was public at "
                f"{at:%Y-%m-%d %H:%M} UTC"
            )
        reading = self._readings[pos]
        if (latest_day - reading.day).days > self.MAX_GAP_DAYS:
            raise SentimentUnavailableError(
                f"fear & greed history ends {self.last_day}: no value within "
                f"{self.MAX_GAP_DAYS} days before {at:%Y-%m-%d %H:%M} UTC"
            )
        return reading


def _reading(row: dict[str, str], line: int, path: Path) -> FearGreedReading:
    try:
        value = int(row["value"])
        if not 0 <= value <= 100:
            raise ValueError(f"{value} is outside 0..100")
        return FearGreedReading(
            day=date.fromisoformat(row["date"]), value=value, label=row.get("classification", "")
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SentimentUnavailableError(f"{path} line {line}: bad row {row!r}: {exc}") from exc


class PointInTimeSentimentProvider:
    """Fear & Greed from the real daily history and dated headlines, as public at `at`."""

    name = "point-in-time"

    def __init__(
        self,
        fear_greed: FearGreedHistory | None,
        headlines: HeadlineLoader | None,
        *,
        lookback: timedelta = timedelta(days=3),
        max_headlines: int = 8,
        missing_history: str = "no fear & greed history configured",
    ) -> None:
        self.fear_greed = fear_greed
        self.headlines = headlines
        self.lookback = lookback
        self.max_headlines = max_headlines
        self.missing_history = missing_history

    def get(self, symbol: str, *, at: datetime | None = None) -> SentimentInputs:
        at = at or datetime.now(UTC)
        if self.fear_greed is None:
            raise SentimentUnavailableError(self.missing_history)
        reading = self.fear_greed.at(at)
        base = base_asset(symbol)
        dated = (
            self.headlines(base, at - self.lookback, at, self.max_headlines)
            if self.headlines is not None
            else []
        )
        if any(h.available_at > at for h in dated):  # the loader's contract, checked anyway
            raise SentimentUnavailableError(f"headline loader returned news after {at}")
        window = f"{self.lookback.days} days before this decision"
        if self.headlines is None:
            note = "no dated headline store is configured: there are no headlines"
        elif not dated:
            note = f"no dated {base} headlines were public in the {window}"
        else:
            note = f"{len(dated)} dated {base} headline(s) public in the {window}"
        newest = max((h.published_at for h in dated), default=reading.stamped_at)
        return SentimentInputs(
            symbol=symbol,
            fear_greed=reading.value,
            fear_greed_label=reading.label,
            headlines=[
                Headline(title=h.title[:300], source=h.source, published_at=h.published_at)
                for h in dated
            ],
            source="point-in-time",
            as_of=max(newest, reading.stamped_at),
            fear_greed_as_of=reading.stamped_at,
            headlines_note=note,
        )


def point_in_time_sentiment(
    settings: Settings, headlines: HeadlineLoader | None
) -> PointInTimeSentimentProvider:
    """The history under `settings.sentiment_data_dir` (never copied into the repository).
    A missing file is not an error here: every decision then reports sentiment unavailable,
    naming the path."""
    path = settings.sentiment_data_dir / FEAR_GREED_FILE
    if not path.is_file():
        return PointInTimeSentimentProvider(
            None, headlines, missing_history=f"no fear & greed history at {path}"
        )
    return PointInTimeSentimentProvider(_history(path), headlines)


_HISTORIES: dict[tuple[Path, int], FearGreedHistory] = {}


def _history(path: Path) -> FearGreedHistory:
    """Parsed once per file version (≈3k rows); backtests build many providers."""
    key = (path, path.stat().st_mtime_ns)
    if key not in _HISTORIES:
        _HISTORIES[key] = FearGreedHistory.from_csv(path)
    return _HISTORIES[key]


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
