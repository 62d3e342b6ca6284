"""The demo's trading session: a rules-engine replay of the stored BTCUSDT and ETHUSDT 1h
history at a watchable pace, started through the API once the server answers (so it is
enqueued on the server's own queue, exactly as the Trading floor's start form would)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from sqlalchemy import Engine

from core.settings import Settings

DEMO_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEMO_INTERVAL = "1h"
DEMO_REPLAY_FROM = datetime(2023, 6, 1, tzinfo=UTC)
"""Inside the real BTC and ETH 1h files (ETH: 2023-01-01 … 2024-01-10), warm-up included."""
WARMUP_MARGIN_BARS = 210
OPEN_STATUSES = ("pending", "running", "paused", "stopping")


def _replay_from(engine: Engine) -> datetime | None:
    """The preferred start when every symbol's history covers it (with the warm-up), else the
    first bar after the common warm-up; None when a symbol has no stored 1h history."""
    from persistence.candles import list_series

    step = timedelta(hours=1)
    series = {
        s.symbol: s
        for s in list_series(engine)
        if s.symbol in DEMO_SYMBOLS and s.interval == DEMO_INTERVAL
    }
    if len(series) < len(DEMO_SYMBOLS):
        return None
    first = max(s.first for s in series.values()).astimezone(UTC)
    last = min(s.last for s in series.values()).astimezone(UTC)
    earliest = first + WARMUP_MARGIN_BARS * step
    if earliest <= DEMO_REPLAY_FROM < last:
        return DEMO_REPLAY_FROM
    return earliest if earliest < last else None


def _free_name(engine: Engine) -> str:
    from persistence.portfolios import list_portfolios

    taken = {p.name for p in list_portfolios(engine)}
    return next(n for n in ("demo", *(f"demo-{i}" for i in range(2, 10_000))) if n not in taken)


def demo_spec(engine: Engine, speed: float) -> tuple[Any, str]:
    """(the session to start, or None; a line saying what the demo does)."""
    from sessions.schemas import SessionSpec
    from sessions.service import list_sessions

    open_ = [v for v in list_sessions(engine) if v.status in OPEN_STATUSES]
    if open_:
        v = open_[0]
        return None, f"trading session {v.id} ({v.name}) is {v.status}: the floor shows it"
    start = _replay_from(engine)
    if start is None:
        wanted = " and ".join(DEMO_SYMBOLS)
        return None, f"no demo session: no stored {wanted} {DEMO_INTERVAL} history to replay"
    spec = SessionSpec(
        symbols=list(DEMO_SYMBOLS),
        interval=DEMO_INTERVAL,
        replay_from=start,
        speed=speed,
        rules=True,
        name=_free_name(engine),
    )
    return spec, (
        f"demo session {spec.name!r}: the rules engine replays {','.join(DEMO_SYMBOLS)} "
        f"{DEMO_INTERVAL} from {start:%Y-%m-%d %H:%M} UTC at {speed:g}× real time"
    )


def _post_when_up(base: str, spec: Any, settings: Settings, within: float) -> str:
    import httpx

    headers = {}
    if settings.api_key is not None:
        headers["X-API-Key"] = settings.api_key.get_secret_value()
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return f"error: demo session not started: the server did not answer within {within}s"
        time.sleep(0.25)
    body = spec.model_dump(mode="json", exclude_none=True)
    response = httpx.post(f"{base}/api/sessions", json=body, headers=headers, timeout=30)
    if response.status_code != 201:
        return f"error: demo session not started: {response.status_code} {response.text}"
    session_id = response.json()["session_id"]
    return f"demo session {session_id} started: watch it at {base}/floor"


def start_when_serving(base: str, spec: Any, settings: Settings, within: float = 120) -> None:
    """In a thread: once the server answers, start `spec` through `POST /api/sessions`."""

    def run() -> None:
        typer.echo(_post_when_up(base, spec, settings, within))

    threading.Thread(target=run, name="demo-session", daemon=True).start()
