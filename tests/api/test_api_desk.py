"""The real desk behind the API, offline (rules engine, synthetic data, temp SQLite): a whole
analysis stream, read in two halves across a disconnect, equals the persisted events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from api.main import create_app
from api.sse_client import ReceivedEvent, parse_sse_lines
from core.settings import Settings
from persistence.events import read_events


def _stream(
    client: httpx.Client, url: str, last_id: int | None, stop_after: int | None
) -> list[ReceivedEvent]:
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    received: list[ReceivedEvent] = []
    with client.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        for event in parse_sse_lines(response.iter_lines()):
            received.append(event)
            if stop_after is not None and len(received) >= stop_after:
                break
    return received


def test_desk_stream_resumes_after_disconnect_exactly_once(
    settings_factory: Callable[..., Settings], serve: Callable[[FastAPI], str]
) -> None:
    app = create_app(settings_factory())
    base = serve(app)
    with httpx.Client(base_url=base) as client:
        accepted = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT", "interval": "1h"})
        assert accepted.status_code == 202
        run_id = accepted.json()["run_id"]
        url = f"/api/analysis/runs/{run_id}/events"
        first = _stream(client, url, None, stop_after=20)
        rest = _stream(client, url, first[-1].id, stop_after=None)
        run = client.get(f"/api/analysis/runs/{run_id}").json()

    received = first + rest
    persisted = read_events(app.state.engine, run_id)
    assert [e.id for e in received] == [e.seq for e in persisted]
    assert [e.id for e in received] == list(range(1, len(persisted) + 1))
    assert [e.data for e in received] == [e.data for e in persisted]
    kinds = Counter(e.event for e in received)
    assert kinds["run_started"] == 1 and kinds["run_finished"] == 1 and kinds["decision"] == 1
    assert kinds["agent_output"] == 6
    assert kinds["token"] > 20
    analysts = {"technical", "sentiment", "tokenomics"}
    assert analysts <= {e.data["node"] for e in received if e.event == "token"}
    assert received[-1].event == "run_finished"
    assert run["status"] == received[-1].data["status"] == "completed"
    assert run["model"] == "rules" and run["data_source"] == "synthetic"
