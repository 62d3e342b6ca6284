"""Replaying a past bar through the API: `POST /api/analysis/runs` with `as_of` runs the real
desk (rules engine) on stored history as it was at that bar, labelled in `run_started`;
bad replay requests are 422 naming `as_of`; a time before the stored history fails the run
with a clear error event instead of inventing synthetic candles.

The store holds 600 hourly candles ending 2024-02-29 23:00 (generated, stored as `import`,
so the store link serves them as real history)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.sse_client import ReceivedEvent, parse_sse_lines
from persistence.candles import store_candles
from tools.candle_frame import datetime_to_ms
from tools.synthetic import generate_candles

FIRST_BAR = datetime(2024, 2, 5, 0, tzinfo=UTC)
BARS = 600
LAST_BAR = FIRST_BAR + timedelta(hours=BARS - 1)
AS_OF = "2024-02-25T12:30:00Z"  # inside the 12:00 bar


@pytest.fixture
def old_store_client(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(data_source="store")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    frame = generate_candles("BTCUSDT", "1h", datetime_to_ms(FIRST_BAR), BARS, seed=7)
    assert store_candles(engine, "BTCUSDT", "1h", frame, source="import").rows_new == BARS
    return client


def _run(client: TestClient, body: dict[str, Any]) -> tuple[dict[str, Any], list[ReceivedEvent]]:
    accepted = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT", **body})
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    manager = client.app.state.run_manager  # type: ignore[attr-defined]
    client.portal.call(manager.wait, run_id)  # type: ignore[union-attr]
    run: dict[str, Any] = client.get(f"/api/analysis/runs/{run_id}").json()
    with client.stream("GET", f"/api/analysis/runs/{run_id}/events") as response:
        assert response.status_code == 200
        events = list(parse_sse_lines(response.iter_lines()))
    return run, events


def test_replay_runs_the_desk_at_the_past_bar(old_store_client: TestClient) -> None:
    run, events = _run(old_store_client, {"interval": "1h", "as_of": AS_OF})
    started = [e for e in events if e.event == "run_started"]
    assert len(started) == 1
    assert datetime.fromisoformat(started[0].data["as_of"]) == datetime(
        2024, 2, 25, 12, 30, tzinfo=UTC
    )
    outputs = [e for e in events if e.event == "agent_output"]
    assert len(outputs) == 6
    technical = next(e for e in outputs if e.data["node"] == "technical")
    assert technical.data["output"]["source"] == "store"
    # The desk decides at the replayed bar, so the years-old store is not stale for it.
    assert not [e for e in events if e.event == "error"]
    decision = [e for e in events if e.event == "decision"]
    assert len(decision) == 1
    assert not any("stale" in reason for reason in decision[0].data["reasons"])
    assert not [e for e in events if e.event == "trade"]
    assert events[-1].event == "run_finished" and events[-1].data["status"] == "completed"
    assert run["status"] == "completed"
    assert datetime.fromisoformat(run["params"]["as_of"]) == datetime.fromisoformat(AS_OF)
    assert datetime.fromisoformat(run["as_of"]) == datetime.fromisoformat(AS_OF)


def test_run_lists_mark_replays(old_store_client: TestClient) -> None:
    replay, _ = _run(old_store_client, {"interval": "1h", "as_of": AS_OF})
    live, _ = _run(old_store_client, {"interval": "1h"})
    listed = {r["id"]: r for r in old_store_client.get("/api/analysis/runs").json()["items"]}
    assert datetime.fromisoformat(listed[replay["id"]]["as_of"]) == datetime.fromisoformat(AS_OF)
    assert listed[live["id"]]["as_of"] is None and live["as_of"] is None


def test_live_run_on_the_same_store_warns_stale_and_is_not_a_replay(
    old_store_client: TestClient,
) -> None:
    _, events = _run(old_store_client, {"interval": "1h"})
    started = next(e for e in events if e.event == "run_started")
    assert started.data["as_of"] is None
    warnings = [e for e in events if e.event == "error" and e.data["severity"] == "warning"]
    assert len(warnings) == 1 and "stale data" in warnings[0].data["message"]
    assert warnings[0].data["code"] == "stale_data" and "--as-of" not in warnings[0].data["message"]
    assert f"{LAST_BAR:%Y-%m-%d %H:%M}" in warnings[0].data["message"]


def test_replay_before_stored_history_is_refused_at_the_request(
    old_store_client: TestClient,
) -> None:
    # Known up front (the store cannot serve the bar): 422 naming as_of, before any run starts.
    for body, wanted in (
        (
            {"symbol": "BTCUSDT", "interval": "1h", "as_of": "2023-01-01T00:00:00"},
            "no stored BTCUSDT 1h history up to 2023-01-01 00:00 UTC",
        ),
        (
            {"symbol": "SOLUSDT", "interval": "1h", "as_of": AS_OF},
            "no stored SOLUSDT 1h history up to 2024-02-25 12:00 UTC",
        ),
    ):
        response = old_store_client.post("/api/analysis/runs", json=body)
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["field"] == "as_of" and wanted in error["message"]
        # Plain words for the web UI: no exception class, no CLI command, no ISO seconds.
        assert "Error" not in error["message"] and "cryptofirm" not in error["message"]
        assert "00:00:00" not in error["message"]
    assert old_store_client.get("/api/analysis/runs").json()["total"] == 0  # nothing started


def test_naive_as_of_is_utc(old_store_client: TestClient) -> None:
    _, events = _run(old_store_client, {"interval": "1h", "as_of": "2024-02-25T12:30"})
    started = next(e for e in events if e.event == "run_started")
    assert datetime.fromisoformat(started.data["as_of"]) == datetime.fromisoformat(AS_OF)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"execute": True}, "cannot execute"),
        ({"as_of": "2999-01-01T00:00:00Z"}, "future"),
        ({"as_of": "yesterday"}, "datetime"),
    ],
)
def test_bad_replay_request_is_422_naming_as_of(
    client: TestClient, extra: dict[str, Any], message: str
) -> None:
    created = client.post("/api/portfolios", json={"name": "replay", "starting_cash": "1000"})
    assert created.status_code == 201, created.text
    body = {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "portfolio_id": created.json()["id"],
        "as_of": AS_OF,
        **extra,
    }
    response = client.post("/api/analysis/runs", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["as_of"]
    assert message in errors[0]["message"]
    listed = client.get("/api/analysis/runs").json()
    assert listed["total"] == 0
