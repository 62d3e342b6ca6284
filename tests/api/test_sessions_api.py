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
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.sse_client import parse_sse_lines
from persistence.candles import SqlCandleStore
from persistence.db import init_db
from tools.importers import import_file

DAISY = "daisybum__cryptoTradingBot"
REPLAY_FROM = "2023-06-01T00:00:00Z"
BARS = 72
UNTIL = (datetime(2023, 6, 1, tzinfo=UTC) + timedelta(hours=BARS)).isoformat()


def _engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


@pytest.fixture
def real_db_url(real_pairs_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "sessions.db"
    shutil.copyfile(real_pairs_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_db_url(request: pytest.FixtureRequest, real_data_dir: Path) -> str:
    """The real candles on each backend (Postgres: relays woken by NOTIFY)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("real_db_url"))
    url = str(request.getfixturevalue("pg_empty_url"))
    engine = init_db(url)
    store = SqlCandleStore(engine)
    for pair in ("BTC_USDT", "ETH_USDT"):
        assert import_file(store, real_data_dir / DAISY / f"{pair}-1h.feather").rows_new > 8000
    engine.dispose()
    return url


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


# --- running sessions ------------------------------------------------------------------------


def _wait(client: TestClient, session_id: str, until: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 120
    while True:
        view: dict[str, Any] = client.get(f"/api/sessions/{session_id}").json()
        if until(view):
            return view
        assert time.monotonic() < deadline, f"timed out; session is {view}"
        time.sleep(0.1)


def _finished(view: dict[str, Any]) -> bool:
    return view["status"] in ("completed", "stopped", "failed")


def test_a_replay_streams_ticks_decisions_and_trades_over_sse(
    scripted_app: Callable[..., Any], serve: Callable[[Any], str], backend_db_url: str
) -> None:
    """Real HTTP through uvicorn: start, then follow the session's SSE stream live to the
    end; every bar is a tick, every (symbol, bar) one decision, fills are `trade` events."""
    app = scripted_app(None, data_source="store", database_url=backend_db_url)
    base = serve(app)
    with httpx.Client(base_url=base, timeout=60) as http:
        spec = {
            "symbols": ["BTCUSDT", "ETHUSDT"],
            "replay_from": REPLAY_FROM,
            "until": UNTIL,
            "speed": 72_000,  # 20 bars a second: paced, so the agents' tokens stream too
            "rules": True,
        }
        started = http.post("/api/sessions", json=spec)
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        with http.stream("GET", f"/api/sessions/{session_id}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = list(parse_sse_lines(response.iter_lines()))
        view = http.get(f"/api/sessions/{session_id}").json()
        decisions = http.get(f"/api/sessions/{session_id}/decisions").json()
        equity = http.get(f"/api/sessions/{session_id}/equity").json()
        trades = http.get(f"/api/portfolios/{view['portfolio_id']}/trades").json()
    kinds = [e.event for e in events]
    assert kinds[0] == "run_started" and events[0].data["kind"] == "session"
    assert kinds[-1] == "run_finished" and events[-1].data["status"] == "completed"
    assert [e.id for e in events] == list(range(1, len(events) + 1))  # one ordered stream
    ticks = [e.data for e in events if e.event == "session_tick"]
    assert len(ticks) == BARS == view["bars_processed"] == len(equity)
    assert [t["bars_processed"] for t in ticks] == list(range(1, BARS + 1))
    # The stored equity (10 decimal places) is the streamed one, to the cent.
    assert [round(t["equity"], 2) for t in ticks] == [round(p["equity"], 2) for p in equity]
    decided = {
        (e.data["symbol"], e.data["bar_time"]) for e in events if e.event == "session_decision"
    }
    # No decision at the last bar (no next open to fill at), as in a backtest.
    assert len(decided) == 2 * (BARS - 1) == len(decisions) == view["decisions"]
    fills = [e.data for e in events if e.event == "trade"]
    assert fills, "the desk made no trade over the window"
    assert {f["symbol"] for f in fills} <= {"BTCUSDT", "ETHUSDT"}
    assert len(fills) == len(trades) == view["trades"]
    assert {f["trade_id"] for f in fills} == {t["id"] for t in trades}
    tokens = [e.data for e in events if e.event == "token"]
    assert tokens and {t["symbol"] for t in tokens} == {"BTCUSDT", "ETHUSDT"}
    assert view["status"] == "completed"
    assert round(view["equity"], 2) == round(ticks[-1]["equity"], 2)
    limits, maxima = view["limits"], view["maxima"]
    assert maxima["max_total_exposure_pct"] <= limits["max_total_exposure_pct"] + 1e-6
    assert maxima["min_cash_pct"] >= limits["min_cash_reserve_pct"] - 1e-6


def test_approval_require_holds_a_trade_until_answered(real_client: TestClient) -> None:
    """A buy waits (listed, `awaiting_approval`) while the session goes on; pause stops the
    clock; approving through the API fills it at the next bar's open after resume."""
    session_id = _start(
        real_client,
        until=UNTIL,
        speed=36_000,  # 10 bars a second
        approval="require",
        approval_timeout_bars=10_000,
    )
    view = _wait(real_client, session_id, lambda v: v["pending_approvals"] or _finished(v))
    assert view["pending_approvals"], f"no trade to approve before the end: {view}"
    paused = real_client.post(f"/api/sessions/{session_id}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert real_client.post(f"/api/sessions/{session_id}/pause").status_code == 409
    at_pause = paused.json()["bars_processed"]
    time.sleep(1.0)  # unpaused, 10 more bars would pass
    still = real_client.get(f"/api/sessions/{session_id}").json()
    assert still["status"] == "paused"
    assert still["bars_processed"] <= at_pause + 1  # the clock stopped (after its bar)
    pending = still["pending_approvals"][0]
    [row] = [
        d
        for d in real_client.get(
            f"/api/sessions/{session_id}/decisions", params={"symbol": pending["symbol"]}
        ).json()
        if d["bar_time"] == pending["bar_time"]
    ]
    assert row["status"] == "awaiting_approval" and row["trade_id"] is None
    answer = {"symbol": pending["symbol"], "bar_time": pending["bar_time"], "approved": True}
    answered = real_client.post(f"/api/sessions/{session_id}/approvals", json=answer)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "decided"
    again = real_client.post(f"/api/sessions/{session_id}/approvals", json=answer)
    assert again.status_code == 409  # no longer awaiting approval
    resumed = real_client.post(f"/api/sessions/{session_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    done = _wait(real_client, session_id, _finished)
    assert done["status"] == "completed", done
    rows = real_client.get(f"/api/sessions/{session_id}/decisions").json()
    [filled] = [
        d for d in rows if (d["symbol"], d["bar_time"]) == (pending["symbol"], pending["bar_time"])
    ]
    assert filled["status"] == "filled" and filled["trade_id"] is not None
    trades = real_client.get(f"/api/portfolios/{done['portfolio_id']}/trades").json()
    [trade] = [t for t in trades if t["id"] == filled["trade_id"]]
    # Filled at a bar's open after the decision bar (the next one after the approval).
    decided_at = datetime.fromisoformat(pending["bar_time"])
    assert datetime.fromisoformat(trade["executed_at"]).replace(tzinfo=UTC) > decided_at
    # No other trade filled unasked (timeout 10,000 bars): the rest waited until the replay
    # ended, which expires them, or was skipped by the risk gate.
    others = [d for d in rows if d["action"] != "hold" and d is not filled]
    assert [d for d in rows if d["status"] == "filled"] == [filled]
    for d in others:
        assert d["trade_id"] is None
        assert d["status"] == "skipped" or (
            d["status"] == "expired" and "replay ended" in d["detail"]
        ), d


def test_stop_ends_a_running_session(real_client: TestClient) -> None:
    session_id = _start(real_client, speed=3_600)  # one bar a second, no end in sight
    _wait(real_client, session_id, lambda v: v["bars_processed"] >= 1)
    stopped = real_client.post(f"/api/sessions/{session_id}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] in ("stopping", "stopped")
    done = _wait(real_client, session_id, _finished)
    assert done["status"] == "stopped"
    assert real_client.post(f"/api/sessions/{session_id}/resume").status_code == 409
    with real_client.stream("GET", f"/api/sessions/{session_id}/events") as response:
        events = list(parse_sse_lines(response.iter_lines()))
    assert events[-1].event == "run_finished" and events[-1].data["status"] == "stopped"
    listed = real_client.get("/api/sessions").json()
    assert [s["id"] for s in listed] == [session_id] and listed[0]["status"] == "stopped"


def test_the_demo_starts_a_rules_replay_of_btc_and_eth(
    scripted_app: Callable[..., Any], serve: Callable[[Any], str], real_db_url: str
) -> None:
    """`cryptofirm demo`'s session: a rules-engine replay of the stored BTC+ETH 1h history
    from 2023-06-01 at a watchable pace, started through the running server; the desk trades
    within its first bars; a second demo start shows the open session instead of another."""
    from cli.demo_session import _post_when_up, demo_spec
    from core.settings import Settings

    engine = init_db(real_db_url)
    spec, note = demo_spec(engine, speed=72_000)
    assert spec is not None and "2023-06-01 00:00 UTC" in note
    assert (spec.symbols, spec.interval, spec.rules, spec.name) == (
        ["BTCUSDT", "ETHUSDT"],
        "1h",
        True,
        "demo",
    )
    base = serve(scripted_app(None, data_source="store", database_url=real_db_url))
    said = _post_when_up(base, spec, Settings(_env_file=None), within=30)  # type: ignore[call-arg]
    assert said.startswith("demo session ") and said.endswith(f"watch it at {base}/floor"), said
    session_id = said.split()[2]
    deadline = time.monotonic() + 60
    while True:
        view = httpx.get(f"{base}/api/sessions/{session_id}").json()
        if view["trades"] > 0:
            break
        assert time.monotonic() < deadline, view
        time.sleep(0.2)
    assert view["bars_processed"] <= 60  # trading within its first 60 bars
    again, note = demo_spec(engine, speed=72_000)
    assert again is None and session_id in note
    httpx.post(f"{base}/api/sessions/{session_id}/stop")
    engine.dispose()
