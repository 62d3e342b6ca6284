"""Binance kline intervals and the arithmetic every module needs about them."""

from __future__ import annotations

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 3 * 60_000,
    "5m": 5 * 60_000,
    "15m": 15 * 60_000,
    "30m": 30 * 60_000,
    "1h": 3_600_000,
    "2h": 2 * 3_600_000,
    "4h": 4 * 3_600_000,
    "6h": 6 * 3_600_000,
    "8h": 8 * 3_600_000,
    "12h": 12 * 3_600_000,
    "1d": 86_400_000,
    "3d": 3 * 86_400_000,
    "1w": 7 * 86_400_000,
}

DAY_MS = 86_400_000


class UnknownIntervalError(ValueError):
    def __init__(self, interval: str) -> None:
        super().__init__(
            f"unknown interval {interval!r}; expected one of: {', '.join(INTERVAL_MS)}"
        )
        self.interval = interval


def interval_ms(interval: str) -> int:
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        raise UnknownIntervalError(interval) from None


def bars_per_day(interval: str) -> float:
    return DAY_MS / interval_ms(interval)


def bars_per_year(interval: str) -> float:
    """Crypto trades 24/7: a year is 365 days of bars."""
    return 365 * bars_per_day(interval)
