"""The SSE frames of real runs match the documented event schema: every `data:` validates
against the OpenAPI `RunEvent` component, `event:` is its `type`, `id:` counts 1, 2, 3 …, and
the last frame is `run_finished`. Checked on a desk run that trades, a second look at the now
full position, and a backtest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_api_approval import HOUR_TURN_LIMITS, fresh_uptrend

from api.openapi import render
from api.sse_client import ReceivedEvent, parse_sse_lines
from persistence.candles import store_candles

DOCUMENT = json.loads(render())
RUN_EVENT = {
    **DOCUMENT["components"]["schemas"]["RunEvent"],
    "components": DOCUMENT["components"],
}


def _frames(client: TestClient, url: str) -> list[ReceivedEvent]:
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        return list(parse_sse_lines(response.iter_lines()))


def _check(frames: list[ReceivedEvent]) -> None:
    assert frames and frames[-1].event == "run_finished"
    assert [f.id for f in frames] == list(range(1, len(frames) + 1))
    for frame in frames:
        jsonschema.validate(frame.data, RUN_EVENT)
        assert frame.event == frame.data["type"]


def test_desk_and_backtest_frames_match_the_schema(make_client: Callable[..., TestClient]) -> None:
    client = make_client(data_source="store")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    store_candles(engine, "BTCUSDT", "1h", fresh_uptrend(), source="import")
    manager: Any = client.app.state.run_manager  # type: ignore[attr-defined]
    body = {"name": "p", "starting_cash": 10000, "risk": HOUR_TURN_LIMITS}
    pid = client.post("/api/portfolios", json=body).json()["id"]
    kinds: set[str] = set()
    for _ in range(2):  # a buy, then a second look at a full position
        run_id = client.post(
            "/api/analysis/runs", json={"symbol": "BTCUSDT", "execute": True, "portfolio_id": pid}
        ).json()["run_id"]
        client.portal.call(manager.wait, run_id)  # type: ignore[union-attr]
        frames = _frames(client, f"/api/analysis/runs/{run_id}/events")
        _check(frames)
        kinds |= {f.event for f in frames}
    assert {"run_started", "agent_output", "decision", "trade", "run_finished"} <= kinds

    # A day inside the stored candles (they end at the last closed bar), after the warm-up.
    day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    body = {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "start": day.isoformat(),
        "end": (day + timedelta(days=1)).isoformat(),
        "every": 6,
    }
    accepted = client.post("/api/backtests", json=body)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    client.portal.call(manager.wait, run_id)  # type: ignore[union-attr]
    frames = _frames(client, f"/api/backtests/{run_id}/events")
    _check(frames)
