"""Fixtures for tests of `tools/`: the real BTC 1h candles as a frame, and slices of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def real_btc_1h_frame(real_btc_1h: Path) -> pd.DataFrame:
    """The whole real BTC/USDT 1h file (58,419 bars) indexed by UTC candle open time."""
    frame = pd.read_feather(real_btc_1h).set_index("date")
    return frame[["open", "high", "low", "close", "volume"]].astype("float64")


@pytest.fixture(scope="session")
def real_btc_1h_year(real_btc_1h_frame: pd.DataFrame) -> pd.DataFrame:
    """One calendar year (2023) of real BTC 1h bars plus the 200 bars before it as warm-up."""
    start = real_btc_1h_frame.index.searchsorted(pd.Timestamp("2023-01-01", tz="UTC"))
    end = real_btc_1h_frame.index.searchsorted(pd.Timestamp("2024-01-01", tz="UTC"))
    return real_btc_1h_frame.iloc[start - 200 : end]


# --- a local stand-in for the Binance REST API (market-data tests) --------------------------

import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qs, urlparse  # noqa: E402

from tools.intervals import interval_ms  # noqa: E402


def fake_kline(open_time: int, step: int) -> list[object]:
    """A Binance-format kline row whose prices are a pure function of its open time."""
    base = 30_000.0 + (open_time // step) % 1_000
    return [
        open_time,
        f"{base:.2f}",
        f"{base + 12.5:.2f}",
        f"{base - 7.25:.2f}",
        f"{base + 3.0:.2f}",
        "12.34500000",
        open_time + step - 1,
        "370000.0",
        100,
        "6.0",
        "180000.0",
        "0",
    ]


class FakeBinance:
    """Serves `/api/v3/klines` on 127.0.0.1; `faults` are served first, one per request:
    an int status (with `Retry-After: retry_after` on 429) or "timeout" (sleeps `hang_s`)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.faults: list[int | str] = []
        self.retry_after = "1"
        self.hang_s = 1.0
        self.listed_until_ms: int | None = None  # no candles at or after this open time
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                owner.requests.append({"path": url.path, **params})
                fault = owner.faults.pop(0) if owner.faults else None
                if fault == "timeout":
                    time.sleep(owner.hang_s)
                    fault = None
                if isinstance(fault, int):
                    body = json.dumps({"code": -1003, "msg": "scripted failure"}).encode()
                    self.send_response(fault)
                    if fault == 429:
                        self.send_header("Retry-After", owner.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if url.path != "/api/v3/klines":
                    self.send_error(404)
                    return
                if params.get("symbol") == "NOPEUSDT":
                    body = json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode()
                    self.send_response(400)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                body = json.dumps(owner.klines(params)).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def klines(self, params: dict[str, str]) -> list[list[object]]:
        step = interval_ms(params["interval"])
        start = int(params["startTime"])
        start += (-start) % step
        end = int(params["endTime"])
        if self.listed_until_ms is not None:
            end = min(end, self.listed_until_ms - 1)
        limit = min(int(params.get("limit", 500)), 1000)
        rows = []
        open_time = start
        while open_time <= end and len(rows) < limit:
            rows.append(fake_kline(open_time, step))
            open_time += step
        return rows

    @property
    def kline_requests(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r["path"] == "/api/v3/klines"]

    def __enter__(self) -> FakeBinance:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server
