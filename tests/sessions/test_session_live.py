"""A live session against a fake Binance on 127.0.0.1: at each 1m bar's close it fetches the
new closed candles (never the forming one) through the real klines client, stores them and
steps — on schedule, no bar skipped. The wall clock is injected and advances at once, so
eleven minutes of market take well under a minute."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from session_helpers import FILES, REAL, check_stream, run, settings_for, wait_for

from persistence import sessions as store
from persistence.candles import SqlCandleStore
from persistence.db import make_engine, upgrade
from sessions import service
from sessions.clock import Wall
from sessions.market import LIVE_WINDOW
from sessions.schemas import SessionSpec

pytestmark = [pytest.mark.realdata]

MIN_MS = 60_000
T_START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
WARM = 520


class FakeWall(Wall):
    def __init__(self, start: datetime) -> None:
        self.t = start
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return self.t

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        with self.lock:
            self.t += timedelta(seconds=max(0.0, seconds))
        stop.wait(0.002)


class FakeBinance:
    """Serves `/api/v3/klines` from real candles re-timed to 1m bars, up to the fake now —
    the forming candle included."""

    def __init__(self, wall: FakeWall, frames: dict[str, pd.DataFrame]) -> None:
        self.wall, self.frames = wall, frames
        self.log: list[tuple[datetime, str, list[int]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/api/v3/klines":
                    self.send_error(404)
                    return
                now_ms = int(fake.wall.now().timestamp() * 1000)
                frame = fake.frames[q["symbol"]]
                # Sloppy on purpose: endTime is ignored, so the forming candle comes too.
                start = int(q["startTime"])
                rows = frame[(frame.open_time >= start) & (frame.open_time <= now_ms)].head(
                    int(q.get("limit", 500))
                )
                fake.log.append((fake.wall.now(), q["symbol"], rows.open_time.tolist()))
                body = json.dumps(
                    [
                        [
                            int(r.open_time),
                            str(r.open),
                            str(r.high),
                            str(r.low),
                            str(r.close),
                            str(r.volume),
                            int(r.open_time) + MIN_MS - 1,
                            "0",
                            1,
                            "0",
                            "0",
                            "0",
                        ]
                        for r in rows.itertuples()
                    ]
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _minute_bars(real_data_dir: Path, symbol: str) -> pd.DataFrame:
    """Real 1h candles of `symbol`, re-timed as consecutive 1m bars around T_START."""
    raw = pd.read_feather(real_data_dir / REAL / FILES[symbol]).head(WARM + 40)
    first = int(T_START.timestamp() * 1000) - WARM * MIN_MS
    return pd.DataFrame(
        {
            "open_time": [first + i * MIN_MS for i in range(len(raw))],
            **{c: raw[c].to_numpy() for c in ("open", "high", "low", "close", "volume")},
        }
    )


@pytest.fixture
def fake(real_data_dir: Path) -> Iterator[FakeBinance]:
    wall = FakeWall(T_START + timedelta(seconds=5))
    server = FakeBinance(wall, {s: _minute_bars(real_data_dir, s) for s in FILES})
    yield server
    server.server.shutdown()


def test_live_session_takes_each_closed_candle_on_schedule(
    fake: FakeBinance, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = settings_for(url, tmp_path, binance_base_url=fake.url, binance_max_retries=0)
    until = T_START + timedelta(minutes=10)
    spec = SessionSpec(symbols=["BTCUSDT", "ETHUSDT"], interval="1m", until=until, rules=True)
    sid = service.create_session(engine, spec, settings=settings)
    assert service.get_session(engine, sid).clock == "live"

    assert run(engine, sid, settings, wall=fake.wall) == "completed"

    first = int(T_START.timestamp() * 1000) - MIN_MS  # the last bar closed at the start
    ticks = [t.bar_ms for t in store.ticks(engine, sid)]
    assert ticks == [first + i * MIN_MS for i in range(11)]
    rows = store.decisions(engine, sid)
    assert sorted((r.symbol, r.bar_ms) for r in rows) == sorted(
        (s, t) for s in ("BTCUSDT", "ETHUSDT") for t in ticks[:-1]
    )
    # On schedule: each bar was fetched for both symbols right after its close (within the
    # grace second). The server also offered it while it was still forming, and that copy
    # was not stored: otherwise the clock would not have asked for it again after the close.
    for bar_ms in ticks[1:]:
        close = datetime.fromtimestamp((bar_ms + MIN_MS) / 1000, tz=UTC)
        served = {(s, at) for at, s, opens in fake.log if bar_ms in opens and at >= close}
        assert {s for s, _ in served} == {"BTCUSDT", "ETHUSDT"}, bar_ms
        assert max(at for _, at in served) <= close + timedelta(seconds=2), (bar_ms, served)
        forming = [at for at, _s, opens in fake.log if bar_ms in opens and at < close]
        assert forming, bar_ms
    for symbol in ("BTCUSDT", "ETHUSDT"):
        stored = SqlCandleStore(engine).read(symbol, "1m")
        assert int(stored.open_time.iloc[-1]) == ticks[-1]
        assert len(stored) == LIVE_WINDOW + 10  # the warm-up window, then each new closed bar
    view = service.get_session(engine, sid)
    assert view.status == "completed" and view.data_source is None and view.bars_processed == 11
    check_stream(engine, sid, "completed")
    engine.dispose()


def test_live_session_without_end_stops_while_waiting_for_a_bar(
    fake: FakeBinance, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = settings_for(url, tmp_path, binance_base_url=fake.url, binance_max_retries=0)
    spec = SessionSpec(symbols=["BTCUSDT"], interval="1m", rules=True)
    sid = service.create_session(engine, spec, settings=settings)
    result: list[object] = []

    def stop_after_three_bars() -> None:
        wait_for(lambda: store.tick_count(engine, sid) >= 3, 60, "three live bars")
        service.stop(engine, sid)

    stopper = threading.Thread(target=stop_after_three_bars)
    stopper.start()
    result.append(run(engine, sid, settings, wall=fake.wall))
    stopper.join(10)
    assert result == ["stopped"]
    view = service.get_session(engine, sid)
    assert view.status == "stopped" and 3 <= view.bars_processed < 20
    check_stream(engine, sid, "stopped")
    engine.dispose()
