"""The edge refuses what would fail later, before any run starts (422 naming the field, or 404
for what does not exist); unknown methods on known paths are 405 with `Allow`; forwarded
headers cannot pick a client's rate-limit identity unless a proxy is configured."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from cli.serve import uvicorn_options
from core.settings import Settings

BTC = {"symbol": "BTCUSDT", "interval": "1h"}
SHORT = {**BTC, "start": "2024-03-01T00:00:00Z", "end": "2024-03-03T00:00:00Z"}


def _fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json().get("errors") or []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BTC, "execute": True}, "portfolio_id"),
        ({**BTC, "execute": True, "portfolio_id": 1, "as_of": "2024-01-01"}, "as_of"),
        ({**BTC, "portfolio_id": 2**31}, "portfolio_id"),
        ({**BTC, "portfolio_id": "1"}, "portfolio_id"),
        ({**BTC, "as_of": "0001-01-01T00:00:00Z"}, "as_of"),
        ({**BTC, "as_of": "2999-01-01T00:00:00Z"}, "as_of"),
        ({"symbol": "BTC\x00USDT"}, "symbol"),
        ({"symbol": "DOGEXYZ"}, "symbol"),  # no quote asset the desk knows
        ({**BTC, "execute": "yes"}, "execute"),
    ],
)
def test_analysis_start_refuses_up_front(client: TestClient, body: Any, field: str) -> None:
    response = client.post("/api/analysis/runs", json=body)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert client.get("/api/analysis/runs").json()["total"] == 0


def test_unknown_portfolio_is_404_before_a_run(client: TestClient) -> None:
    response = client.post("/api/analysis/runs", json={**BTC, "execute": True, "portfolio_id": 9})
    assert response.status_code == 404 and "portfolio 9" in response.json()["detail"]
    assert client.get("/api/analysis/runs").json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a\x00b", "starting_cash": 100}, "name"),
        ({"name": "ok", "starting_cash": 1e30}, "starting_cash"),
        ({"name": "ok", "starting_cash": "1e5"}, "starting_cash"),
        ({"name": "ok", "starting_cash": 100, "risk": {"max_position_pct": "5"}}, "risk"),
    ],
)
def test_portfolio_create_bounds(client: TestClient, body: Any, field: str) -> None:
    response = client.post("/api/portfolios", json=body)
    assert response.status_code == 422, response.text
    assert any(f.startswith(field) for f in _fields(response))
    assert client.get("/api/portfolios").json() == []


def test_a_body_that_is_not_json_text_is_422_naming_the_body(client: TestClient) -> None:
    """FastAPI answers bytes that do not decode (not UTF-8) with an undocumented bare 400;
    malformed JSON with a 422. Both are the body's fault: one documented answer, no run."""
    for path in ("/api/backtests/estimate", "/api/backtests", "/api/analysis/runs"):
        for raw in (b"\xef\xbf\xbd]&w\xff\x11PU", b'{"symbol": "BTCUSDT",'):
            response = client.post(path, content=raw, headers={"content-type": "application/json"})
            assert response.status_code == 422, (path, raw, response.text)
            assert response.json()["errors"][0]["type"] == "json_invalid", response.text
    assert client.get("/api/analysis/runs").json()["total"] == 0


def test_ids_and_text_beyond_the_database_are_422(client: TestClient) -> None:
    assert client.get(f"/api/portfolios/{2**31}").status_code == 422
    assert client.get("/api/analysis/runs/a%00b").status_code == 422
    assert client.get("/api/agents/logs", params={"run_id": "a\x00b"}).status_code == 422
    assert (
        client.get("/api/analysis/runs/x/events", headers={"Last-Event-ID": "1e9"}).status_code
        == 422
    )


def test_backtest_bars_and_warmup_are_bounded(client: TestClient) -> None:
    century = {
        **BTC,
        "interval": "1m",
        "start": "2009-01-03T00:00:00Z",
        "end": "2024-01-01T00:00:00Z",
    }
    for body, field in ((century, "end"), ({**SHORT, "warmup_bars": 10**9}, "warmup_bars")):
        response = client.post("/api/backtests", json=body)
        assert response.status_code == 422 and field in _fields(response), response.text


def test_unknown_method_on_a_known_path_is_405_with_allow(client: TestClient) -> None:
    for method, path, allow in (
        ("PUT", "/api/health", "GET"),
        ("DELETE", "/api/portfolios/1", "GET, PATCH"),
        ("GET", "/api/backtests/estimate", "POST"),  # not "the backtest named estimate"
        ("GET", "/api/market/fetch", "POST"),
    ):
        response = client.request(method, path)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allow
    assert client.get("/api/nowhere").status_code == 404


def test_unknown_query_parameters_are_named(client: TestClient) -> None:
    response = client.get("/api/agents/usage", params={"days": 3, "dyas": 4})
    assert response.status_code == 422 and _fields(response) == {"dyas"}


# --- GET never calls out; POST /market/fetch does ------------------------------------------


def test_get_candles_in_live_mode_never_calls_binance(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    hits: list[str] = []
    url = _recording_server(hits)
    client = make_client(data_source="live", binance_base_url=url)
    response = client.get("/api/market/candles", params={**BTC, "limit": 20})
    # Nothing stored: the answer says what is missing and how to get it; Binance is not asked.
    assert response.status_code == 422 and "data fetch" in response.json()["detail"]
    assert hits == []
    assert client.get("/api/market/symbols").json() == []


def _recording_server(hits: list[str]) -> str:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(503)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


# --- forwarded headers --------------------------------------------------------------------


def _serve(settings: Settings) -> Iterator[str]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, **uvicorn_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize(("trusted", "spoof_works"), [("", False), ("127.0.0.1", True)])
def test_forwarded_for_is_trusted_only_from_configured_proxies(
    settings_factory: Callable[..., Settings], trusted: str, spoof_works: bool
) -> None:
    settings = settings_factory(api_rate_limit_per_minute=1, forwarded_allow_ips=trusted)
    bad = {"symbol": "BTCUSDT", "interval": "1h", "execute": True, "portfolio_id": 4242}
    for base in _serve(settings):
        with httpx.Client(base_url=base, timeout=30) as http:
            # 404 (unknown portfolio) spends the client's one run-start token ...
            assert http.post("/api/analysis/runs", json=bad).status_code == 404
            again = http.post(
                "/api/analysis/runs", json=bad, headers={"X-Forwarded-For": "203.0.113.9"}
            )
    # ... and a made-up X-Forwarded-For only gets a fresh bucket from a trusted proxy.
    assert again.status_code == (404 if spoof_works else 429), again.text
