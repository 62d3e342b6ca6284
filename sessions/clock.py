"""Session clocks: which bar comes next, and when.

- `ReplayClock` steps through stored history from `replay_from` (each symbol loaded as its
  backtest would be), as fast as possible (`speed` None) or paced at `speed` simulated
  seconds per wall second.
- `LiveClock` waits for each bar to close on the wall clock, fetches the new closed candle of
  every symbol from Binance (`tools.binance.BinanceKlinesClient`, rooted at
  `settings.binance_base_url`, so tests serve it from 127.0.0.1) into the store, then steps.
  A session that fell behind (paused, or its worker down) catches up bar by bar: no bar is
  skipped.

Both yield `Step`s after a given bar (the last processed one), so a resumed session continues
exactly at the first unprocessed bar. Time and sleep are injectable (`Wall`), so tests run a
1-minute live session in a fraction of a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from persistence.candles import SqlCandleStore
from sessions.market import LIVE_WINDOW, SymbolData, load_live, load_replay
from sessions.schemas import SessionSpec
from tools.intervals import interval_ms

log = logging.getLogger("sessions.clock")


@dataclass(frozen=True)
class Step:
    bar_ms: int
    data: dict[str, SymbolData]
    decide: bool
    last: bool
    index: int
    total: int | None = None
    """Bars in the whole replay (None: a live session has no end in sight)."""


POLL_S = 2.0
"""A long wait (a paced replay, a live bar) is cut in slices this long: a stop is noticed
within one slice."""

Interrupted = Callable[[], bool]
"""Asked between slices of a wait: True → the clock stops (the session is being stopped)."""


class Wall:
    """The wall clock; tests pass one whose `sleep` advances a fake time at once."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _never() -> bool:
    return False


def wait_on(wall: Wall, seconds: float, stop: threading.Event, interrupted: Interrupted) -> bool:
    """Sleep `seconds` on `wall` in slices; False when stopped or interrupted meanwhile."""
    end = wall.now().timestamp() + seconds
    while (left := end - wall.now().timestamp()) > 0:
        if stop.is_set() or interrupted():
            return False
        wall.sleep(min(left, POLL_S), stop)
    return not (stop.is_set() or interrupted())


class ReplayClock:
    def __init__(
        self, db: Engine, spec: SessionSpec, settings: Settings, *, wall: Wall | None = None
    ) -> None:
        assert spec.replay_from is not None
        self.spec = spec
        self.wall = wall or Wall()
        self.data = load_replay(db, spec, settings)
        start = _ms(spec.replay_from)
        times = sorted({t for sd in self.data.values() for t in sd.market.times_ms if t >= start})
        self.bars = times
        self.source = next(iter(self.data.values())).source
        self.interrupted: Interrupted = _never

    def steps(self, after_ms: int | None, stop: threading.Event) -> Iterator[Step]:
        total = len(self.bars)
        step_s = interval_ms(self.spec.interval) / 1000
        paced_from: float | None = None
        done = 0
        for k, bar_ms in enumerate(self.bars):
            if after_ms is not None and bar_ms <= after_ms:
                continue
            if stop.is_set():
                return
            if self.spec.speed is not None:
                now = time.monotonic()
                paced_from = now if paced_from is None else paced_from
                due = paced_from + done * step_s / self.spec.speed
                if due > now and not wait_on(self.wall, due - now, stop, self.interrupted):
                    return
            done += 1
            last = k == total - 1
            yield Step(
                bar_ms=bar_ms,
                data=self.data,
                decide=not last and k % self.spec.every == 0,
                last=last,
                index=k,
                total=total,
            )


ClientFactory = Callable[[], Any]


class LiveClock:
    """Waits for bar closes on `wall`, fetches the closed candles, yields the bar."""

    def __init__(
        self,
        db: Engine,
        spec: SessionSpec,
        settings: Settings,
        *,
        wall: Wall | None = None,
        client_factory: ClientFactory | None = None,
        grace_s: float = 1.0,
        retry_s: float = 2.0,
        retries: int = 5,
    ) -> None:
        self.db, self.spec, self.settings = db, spec, settings
        self.wall = wall or Wall()
        self.step_ms = interval_ms(spec.interval)
        self.grace_s, self.retry_s, self.retries = grace_s, retry_s, retries
        self.source = "binance"
        if client_factory is None:
            from tools.binance import BinanceKlinesClient

            def client_factory() -> Any:
                return BinanceKlinesClient.from_settings(settings)

        self.client_factory = client_factory
        self.on_wait: Callable[[str], None] = lambda _doing: None
        self.interrupted: Interrupted = _never

    def _last_closed(self) -> int:
        now = _ms(self.wall.now())
        return (now // self.step_ms) * self.step_ms - self.step_ms

    def _fetch(self, symbol: str, start_ms: int, end_ms: int) -> None:
        client = self.client_factory()
        try:
            frame = client.fetch_klines(symbol, self.spec.interval, start_ms, end_ms)
        finally:
            client.close()
        if not frame.empty:
            closed = frame[frame["open_time"] + self.step_ms <= _ms(self.wall.now())]
            SqlCandleStore(self.db).write(
                symbol, self.spec.interval, closed, source="binance", overwrite="same_source"
            )

    def _stored_until(self, symbol: str, end_ms: int) -> int | None:
        frame = SqlCandleStore(self.db).read(symbol, self.spec.interval, end_ms=end_ms, limit=1)
        return None if frame.empty else int(frame["open_time"].iloc[-1])

    def _bring_in(self, bar_ms: int, stop: threading.Event) -> dict[str, SymbolData]:
        """Every symbol's candles up to bar `bar_ms` (closed) in the store, with the warm-up
        a live session needs; retried while Binance has not published the bar yet."""
        end_ms = bar_ms + self.step_ms
        for attempt in range(self.retries + 1):
            missing = []
            for symbol in self.spec.symbols:
                have = self._stored_until(symbol, end_ms)
                if have is None or have < bar_ms:
                    start = (
                        (have + self.step_ms)
                        if have is not None
                        else (end_ms - LIVE_WINDOW * self.step_ms)
                    )
                    self._fetch(symbol, start, end_ms)
                    have = self._stored_until(symbol, end_ms)
                if have is None or have < bar_ms:
                    missing.append(symbol)
            if not missing:
                return {s: load_live(self.db, self.spec, s, end_ms) for s in self.spec.symbols}
            if attempt < self.retries and not wait_on(
                self.wall, self.retry_s, stop, self.interrupted
            ):
                return {}
        raise LookupError(
            f"symbols: Binance has no closed {self.spec.interval} candle of {missing} at "
            f"{datetime.fromtimestamp(bar_ms / 1000, tz=UTC):%Y-%m-%d %H:%M} UTC after "
            f"{self.retries + 1} attempts"
        )

    def steps(self, after_ms: int | None, stop: threading.Event) -> Iterator[Step]:
        bar_ms = after_ms + self.step_ms if after_ms is not None else self._last_closed()
        index = 0
        until_ms = _ms(self.spec.until) if self.spec.until is not None else None
        while not stop.is_set():
            if until_ms is not None and bar_ms >= until_ms:
                return
            close_s = (bar_ms + self.step_ms) / 1000
            wait = close_s + self.grace_s - self.wall.now().timestamp()
            if wait > 0:
                self.on_wait(
                    f"waiting for the {datetime.fromtimestamp(bar_ms / 1000, tz=UTC):%H:%M} "
                    f"{self.spec.interval} bar to close"
                )
                if not wait_on(self.wall, wait, stop, self.interrupted):
                    return
                continue  # re-check the time after waking
            data = self._bring_in(bar_ms, stop)
            if not data:
                return
            last = until_ms is not None and bar_ms + self.step_ms >= until_ms
            yield Step(
                bar_ms=bar_ms,
                data=data,
                decide=not last and index % self.spec.every == 0,
                last=last,
                index=index,
            )
            index += 1
            bar_ms += self.step_ms
