"""Binance spot klines through python-binance, with pagination and polite retries.

The python-binance `Client` is built with `ping=False` (no network in a constructor) and its
REST root is pointed at `settings.binance_base_url`, so tests can serve klines from 127.0.0.1
and production can use a regional mirror. Retries cover 5xx, 429/418 (honouring Retry-After)
and timeouts/connection errors, with exponential backoff; other 4xx fail at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.settings import Settings, get_settings
from tools.candle_frame import FRAME_COLUMNS, empty_frame
from tools.intervals import interval_ms

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

KLINES_PAGE_LIMIT = 1_000  # Binance's maximum per request
RETRYABLE_STATUS = frozenset({418, 429, 500, 502, 503, 504})


class BinanceError(RuntimeError):
    """Binance could not be reached or refused the request (after retries where sensible)."""


class BinanceKlinesClient:
    """Fetches klines for a symbol, interval and [start, end) range, page by page."""

    def __init__(
        self,
        *,
        base_url: str,
        timeout_s: float = 10.0,
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be ≥ 0, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        # python-binance (and its aiohttp/websocket stack) costs ~0.6 s to import: only a
        # process that actually talks to Binance pays for it.
        from binance.client import Client

        self._client = Client(ping=False, requests_params={"timeout": timeout_s})
        # python-binance formats API_URL from a template; override it so any host can serve.
        self._client.API_URL = f"{self.base_url}/api"

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, **overrides: Any
    ) -> BinanceKlinesClient:
        settings = settings or get_settings()
        options: dict[str, Any] = {
            "base_url": settings.binance_base_url,
            "timeout_s": settings.binance_timeout_s,
            "max_retries": settings.binance_max_retries,
        }
        options.update(overrides)
        return cls(**options)

    def close(self) -> None:
        self._client.session.close()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max_s)
        backoff = self.backoff_base_s * (2**attempt)
        # Jitter so parallel fetchers do not retry in lock-step.
        return min(backoff * (1.0 + 0.1 * random.random()), self.backoff_max_s)

    def _klines_page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Any]:
        import requests
        from binance.exceptions import BinanceAPIException, BinanceRequestException

        params = {
            "symbol": symbol,
            "interval": interval,
            "startTime": start_ms,
            "endTime": end_ms - 1,
            "limit": KLINES_PAGE_LIMIT,
        }
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                page = self._client.get_klines(**params)
            except BinanceAPIException as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    raise BinanceError(
                        f"Binance refused klines {symbol} {interval}: HTTP {exc.status_code} "
                        f"code={exc.code} {exc.message}"
                    ) from exc
                # A 4xx/5xx requests.Response is falsy, so test against None explicitly.
                response = exc.response
                header = response.headers.get("Retry-After") if response is not None else None
                retry_after = _parse_retry_after(header)
                problem = f"HTTP {exc.status_code}"
            except (requests.Timeout, requests.ConnectionError) as exc:
                problem = type(exc).__name__
            except BinanceRequestException as exc:
                raise BinanceError(f"Binance sent an unreadable response: {exc.message}") from exc
            else:
                if not isinstance(page, list):
                    raise BinanceError(f"Binance klines response is not a list: {page!r:.200}")
                return page
            if attempt == self.max_retries:
                raise BinanceError(
                    f"Binance klines {symbol} {interval} failed after "
                    f"{self.max_retries + 1} attempts: {problem}"
                )
            delay = self._delay(attempt, retry_after)
            log.warning(
                "binance %s on klines %s %s; retry in %.2fs", problem, symbol, interval, delay
            )
            self._sleep(delay)
        raise AssertionError("unreachable")

    def fetch_klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        *,
        on_page: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Candles with open_time in [start_ms, end_ms) as a candle frame, paging past 1,000.

        `on_page(rows_in_page, last_open_time_ms)` reports progress.
        """
        step = interval_ms(interval)
        if end_ms <= start_ms:
            raise ValueError("end must be after start")
        rows: list[list[Any]] = []
        cursor = start_ms
        while cursor < end_ms:
            page = self._klines_page(symbol, interval, cursor, end_ms)
            if not page:
                break
            rows.extend(page)
            last_open = int(page[-1][0])
            if on_page is not None:
                on_page(len(page), last_open)
            if len(page) < KLINES_PAGE_LIMIT:
                break
            cursor = last_open + step
        if not rows:
            return empty_frame()
        frame = parse_klines(rows)
        inside = (frame["open_time"] >= start_ms) & (frame["open_time"] < end_ms)
        return frame.loc[inside].reset_index(drop=True)


def parse_klines(rows: list[list[Any]]) -> pd.DataFrame:
    """Binance kline rows (12 fields, prices as strings) → candle frame."""
    bad = next((i for i, row in enumerate(rows) if not isinstance(row, list) or len(row) < 6), None)
    if bad is not None:
        raise BinanceError(f"kline row {bad} is malformed: {rows[bad]!r:.200}")
    import pandas as pd

    frame = pd.DataFrame([row[:6] for row in rows], columns=list(FRAME_COLUMNS))
    try:
        frame = frame.astype({"open_time": "int64", **dict.fromkeys(FRAME_COLUMNS[1:], "float64")})
    except (TypeError, ValueError) as exc:
        raise BinanceError(f"kline values are not numeric: {exc}") from exc
    return frame


def _parse_retry_after(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None  # HTTP-date form: fall back to exponential backoff
