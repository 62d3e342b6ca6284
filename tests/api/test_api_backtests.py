"""Backtests end to end through the API: estimate, start a short rules backtest (synthetic
candles, offline desk), follow its progress over SSE to `run_finished`, read the result;
cancel a longer one (partial result kept); 404/422; and one run on a fresh Postgres."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from api.sse_client import ReceivedEvent, parse_sse_lines
from core.settings import Settings
from persistence.events import read_events

SHORT = {
    "symbol": "BTCUSDT",
    "interval": "1h",
    "start": "2024-03-01T00:00:00Z",
    "end": "2024-03-03T00:00:00Z",  # 48 bars
}
LONG = {**SHORT, "end": "2025-03-01T00:00:00Z"}  # ~8800 bars: still running when cancelled


def _events(client: httpx.Client, url: str, last_id: int | None = None) -> list[ReceivedEvent]:
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    with client.stream("GET", url, headers=headers, timeout=120) as response:
        assert response.status_code == 200, response.read()
        return list(parse_sse_lines(response.iter_lines()))


def _wait_status(client: httpx.Client, run_id: str, done: set[str], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        run: dict[str, Any] = client.get(f"/api/backtests/{run_id}").json()
        if run["status"] in done:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


def _run_short_backtest(base: str, app: FastAPI) -> None:
    with httpx.Client(base_url=base) as client:
        estimate = client.post("/api/backtests/estimate", json=SHORT)
        assert estimate.status_code == 200
        est = estimate.json()
        assert est["within_cap"] is True and float(est["usd"]) == 0  # the rules engine is free

        accepted = client.post("/api/backtests", json=SHORT)
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        assert accepted.json()["events_url"] == f"/api/backtests/{run_id}/events"
        received = _events(client, f"/api/backtests/{run_id}/events")

        kinds = Counter(e.event for e in received)
        assert received[0].event == "run_started" and received[0].data["kind"] == "backtest"
        assert received[0].data["data_source"] == "synthetic"
        assert received[-1].event == "run_finished"
        assert received[-1].data["status"] == "completed"
        assert kinds["progress"] >= 2
        progress = [e.data for e in received if e.event == "progress"]
        assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
        assert progress[-1]["done"] == progress[-1]["total"] == 48
        # The SSE ids are the persisted sequence, gap-free.
        persisted = read_events(app.state.engine, run_id)
        assert [e.id for e in received] == [e.seq for e in persisted]
        assert [e.id for e in received] == list(range(1, len(persisted) + 1))
        # A late client resuming after the third event gets exactly the rest.
        assert [e.id for e in _events(client, f"/api/backtests/{run_id}/events", 3)] == [
            e.id for e in received[3:]
        ]

        run = client.get(f"/api/backtests/{run_id}").json()
        assert run["status"] == "completed" and run["progress"] == pytest.approx(1.0)
        assert run["data_source"] == "synthetic"
        result = client.get(f"/api/backtests/{run_id}/result")
        assert result.status_code == 200
        body = result.json()
        assert body["run_id"] == run_id and body["partial"] is False
        spread = body["decision_spread"]
        # One decision per bar but the last (its order would fill after the range ends).
        assert spread["buy"] + spread["sell"] + spread["hold"] == 47
        assert {"buy_and_hold", "rules"} <= set(body["baselines"])
        assert len(body["equity_curve"]) >= 48
        first_equity = body["equity_curve"][0][1]
        assert first_equity == pytest.approx(10_000, rel=0.01)
        assert body["metrics"]["final_equity"] == pytest.approx(body["equity_curve"][-1][1])
        assert isinstance(body["trades"], list)

        page = client.get("/api/backtests?status=completed").json()
        assert [item["id"] for item in page["items"]] == [run_id]


def test_short_backtest_streams_to_run_finished_and_has_a_result(
    settings_factory: Callable[..., Settings], serve: Callable[[FastAPI], str]
) -> None:
    app = create_app(settings_factory())
    _run_short_backtest(serve(app), app)


@pytest.mark.postgres
def test_backtest_through_the_api_on_postgres(
    settings_factory: Callable[..., Settings],
    serve: Callable[[FastAPI], str],
    pg_empty_url: str,
) -> None:
    app = create_app(settings_factory(database_url=pg_empty_url))
    assert app.state.settings.database_url == pg_empty_url
    _run_short_backtest(serve(app), app)
    assert app.state.engine.dialect.name == "postgresql"


def test_cancel_keeps_the_partial_result(
    settings_factory: Callable[..., Settings], serve: Callable[[FastAPI], str]
) -> None:
    app = create_app(settings_factory())
    base = serve(app)
    with httpx.Client(base_url=base) as client:
        run_id = client.post("/api/backtests", json=LONG).json()["run_id"]
        with client.stream("GET", f"/api/backtests/{run_id}/events", timeout=120) as response:
            received: list[ReceivedEvent] = []
            for event in parse_sse_lines(response.iter_lines()):
                received.append(event)
                if event.event == "progress" and len(received) == 3:
                    cancelled = client.post(f"/api/backtests/{run_id}/cancel")
                    assert cancelled.status_code == 202
                    assert cancelled.json()["status"] == "cancelled"
        assert received[-1].event == "run_finished"
        assert received[-1].data["status"] == "cancelled"
        progress = [e.data for e in received if e.event == "progress"]
        assert progress and progress[-1]["done"] < progress[-1]["total"]

        run = _wait_status(client, run_id, {"cancelled"})
        assert 0 < run["progress"] < 1
        body = client.get(f"/api/backtests/{run_id}/result").json()
        assert body["partial"] is True
        decided = sum(body["decision_spread"].values())
        assert 0 < decided < progress[-1]["total"]
        # A finished run cannot be cancelled again.
        assert client.post(f"/api/backtests/{run_id}/cancel").status_code == 409


def test_backtest_not_found_and_bad_input(
    settings_factory: Callable[..., Settings], serve: Callable[[FastAPI], str]
) -> None:
    app = create_app(settings_factory())
    with httpx.Client(base_url=serve(app)) as client:
        for path in ("", "/result", "/events"):
            response = client.get(f"/api/backtests/no-such-run{path}")
            assert response.status_code == 404, path
            assert "no-such-run" in response.json()["detail"]
        assert client.post("/api/backtests/no-such-run/cancel").status_code == 404

        bad: list[tuple[dict[str, Any], str]] = [
            ({**SHORT, "interval": "9q"}, "interval"),
            ({**SHORT, "symbol": "BTC-USDT"}, "symbol"),
            ({**SHORT, "start": "2008-12-31T00:00:00"}, "start"),  # before the era
            ({**SHORT, "start": "0001-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}, "end"),
            ({**SHORT, "end": "2024-02-01T00:00:00Z"}, "end"),
            ({**SHORT, "warmup_bars": 1_000_000_000}, "warmup_bars"),
            ({**SHORT, "starting_cash": 1e308}, "starting_cash"),
            ({**SHORT, "fee_rate": "abc"}, "fee_rate"),
            ({**SHORT, "every": 0}, "every"),
            ({**SHORT, "start": "1990-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "end"),
        ]
        for body, field in bad:
            for route in ("/api/backtests/estimate", "/api/backtests"):
                response = client.post(route, json=body)
                assert response.status_code == 422, (route, body)
                fields = {e["field"] for e in response.json()["errors"] or []}
                assert any(field in f for f in fields), (route, field, response.json())
        assert client.get("/api/backtests?status=bogus").status_code == 422
        assert client.get("/api/backtests").json()["total"] == 0  # nothing was started

        run_id = client.post("/api/backtests", json=SHORT).json()["run_id"]
        assert client.get(f"/api/analysis/runs/{run_id}").status_code == 404  # not analysis
        _wait_status(client, run_id, {"completed"})
        assert client.post(f"/api/backtests/{run_id}/cancel").status_code == 409


def test_range_real_data_does_not_cover_is_422_or_clipped(
    make_client: Callable[..., Any],
) -> None:
    import numpy as np
    import pandas as pd

    from persistence.candles import store_candles
    from persistence.db import get_engine

    client = make_client(data_source="store")
    start_ms = 1_709_251_200_000 - 300 * 3_600_000  # 300 bars before 2024-03-01
    times = start_ms + 3_600_000 * np.arange(340, dtype="int64")  # to 2024-03-02 15:00
    close = 60_000 + np.arange(340, dtype="float64")
    frame = pd.DataFrame(
        {
            "open_time": times,
            "open": close,
            "high": close + 9,
            "low": close - 9,
            "close": close,
            "volume": 1.0,
        }
    )
    engine = get_engine(client.app.state.settings.database_url)
    store_candles(engine, "BTCUSDT", "1h", frame, source="import")
    refused = client.post("/api/backtests", json=SHORT)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("range: real BTCUSDT 1h data (store)")
    assert "missing 2024-03-02 16:00 → 2024-03-02 23:00 (8 bars)" in detail
    accepted = client.post("/api/backtests", json={**SHORT, "clip": True})
    assert accepted.status_code == 202, accepted.text
    run = client.get(f"/api/backtests/{accepted.json()['run_id']}").json()
    assert run["params"]["end"].startswith("2024-03-02T16:00")
    assert "clipped to real data" in run["params"]["data_notes"][0]
