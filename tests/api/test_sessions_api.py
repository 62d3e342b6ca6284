"""Trading sessions through the REST API, on the real stored BTCUSDT and ETHUSDT 1h candles
(Binance, imported from `../shared/data/real`) with the offline rules engine:

- bad input is 422 naming the field before anything is written; an unknown portfolio 404; a
  replay without the stored history it needs 422 naming `replay_from` (type `missing_data`);
- a replay session started with `POST /api/sessions` runs as a job on the run queue: its SSE
  stream (real HTTP through uvicorn) carries `session_tick`, `session_decision` and `trade`
  events and ends with `run_finished`; decisions, equity and the session view agree;
- approval `require`: a trade waits (`awaiting_approval`, listed in the view) until answered
  through `POST /api/sessions/{id}/approvals`, then fills at the next bar's open; pause,
  resume and stop steer the clock.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from persistence.candles import SqlCandleStore
from persistence.db import init_db
from tools.importers import import_file

DAISY = "daisybum__cryptoTradingBot"
REPLAY_FROM = "2023-06-01T00:00:00Z"


def _engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


@pytest.fixture(scope="module")
def real_template(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the real BTCUSDT and ETHUSDT 1h candles of 2023, built
    once per module and copied for each test."""
    path = tmp_path_factory.mktemp("sessions-api") / "template.db"
    engine = init_db(f"sqlite:///{path}")
    store = SqlCandleStore(engine)
    for pair in ("BTC_USDT", "ETH_USDT"):
        candles = real_data_dir / DAISY / f"{pair}-1h.feather"
        if not candles.is_file():
            pytest.skip(f"real candles missing: {candles}")
        assert import_file(store, candles).rows_new > 8000
    engine.dispose()
    return path


@pytest.fixture
def real_db_url(real_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "sessions.db"
    shutil.copyfile(real_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def real_client(make_client: Callable[..., TestClient], real_db_url: str) -> TestClient:
    """An API (embedded worker) on the real candles."""
    client: TestClient = make_client(data_source="store", database_url=real_db_url)
    return client


def _start(client: TestClient, **body: Any) -> str:
    spec = {"symbols": ["BTCUSDT", "ETHUSDT"], "replay_from": REPLAY_FROM, "rules": True, **body}
    response = client.post("/api/sessions", json=spec)
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["status"] == "pending"
    assert started["events_url"] == f"/api/sessions/{started['session_id']}/events"
    session_id: str = started["session_id"]
    return session_id


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["type"] for e in response.json()["errors"]}


# --- refused up front ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbols": []}, "symbols"),
        ({"symbols": ["btc"]}, "symbols.0"),
        ({"symbols": ["BTCUSDT", "BTCUSDT"]}, "symbols"),
        ({"symbols": ["BTCUSDT"], "interval": "7m"}, "interval"),
        ({"symbols": ["BTCUSDT"], "replay_from": "2008-01-01"}, "replay_from"),
        ({"symbols": ["BTCUSDT"], "replay_from": "2023-06-01", "until": "2023-05-01"}, "until"),
        ({"symbols": ["BTCUSDT"], "speed": 3600}, "speed"),
        ({"symbols": ["BTCUSDT"], "replay_from": "2023-06-01", "speed": 0}, "speed"),
        ({"symbols": ["BTCUSDT"], "approval": "maybe"}, "approval"),
        ({"symbols": ["BTCUSDT"], "approval_timeout_bars": 0}, "approval_timeout_bars"),
        ({"symbols": ["BTCUSDT"], "starting_cash": -1}, "starting_cash"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 422, response.text
    assert field in _errors(response)
    assert client.get("/api/sessions").json() == []
    assert client.get("/api/portfolios").json() == []  # nothing written


def test_unknown_portfolio_is_404(client: TestClient) -> None:
    response = client.post("/api/sessions", json={"symbols": ["BTCUSDT"], "portfolio_id": 77})
    assert response.status_code == 404 and "77" in response.json()["detail"]
    assert client.get("/api/sessions").json() == []


def test_replay_without_stored_history_is_422_naming_replay_from(
    real_client: TestClient,
) -> None:
    for body, wanted in (
        ({"symbols": ["SOLUSDT"], "replay_from": REPLAY_FROM}, "SOLUSDT 1h"),
        # The real ETH file starts 2023-01-01: no 200 warm-up bars before 2023-01-03.
        ({"symbols": ["ETHUSDT", "BTCUSDT"], "replay_from": "2023-01-03"}, "ETHUSDT 1h"),
    ):
        response = real_client.post("/api/sessions", json=body)
        assert response.status_code == 422, response.text
        assert _errors(response) == {"replay_from": "missing_data"}
        assert wanted in response.json()["detail"]
    assert real_client.get("/api/sessions").json() == []
    assert real_client.get("/api/portfolios").json() == []


def test_a_taken_name_is_409(real_client: TestClient) -> None:
    real_client.post("/api/portfolios", json={"name": "taken", "starting_cash": 1000})
    response = real_client.post(
        "/api/sessions",
        json={"symbols": ["BTCUSDT"], "replay_from": REPLAY_FROM, "name": "taken"},
    )
    assert response.status_code == 409, response.text
    assert "taken" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("GET", "/decisions"),
        ("GET", "/equity"),
        ("GET", "/events"),
        ("GET", "/parity"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/stop"),
    ],
)
def test_unknown_session_is_404(client: TestClient, method: str, suffix: str) -> None:
    response = client.request(method, f"/api/sessions/nope{suffix}")
    assert response.status_code == 404, response.text
    assert "nope" in response.json()["detail"]


def test_an_approval_for_an_unknown_session_is_404(client: TestClient) -> None:
    answer = {"symbol": "BTCUSDT", "bar_time": "2023-06-01T00:00:00Z", "approved": True}
    response = client.post("/api/sessions/nope/approvals", json=answer)
    assert response.status_code == 404
    bad = client.post("/api/sessions/nope/approvals", json={**answer, "approved": "yes"})
    assert bad.status_code == 422 and "approved" in _errors(bad)
