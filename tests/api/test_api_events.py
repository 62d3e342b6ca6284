"""The event pipeline: persisted before published, resumable by Last-Event-ID, exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.relays import sse_frame
from api.run_manager import RunManager
from api.runs_store import create_run
from api.sse_client import ReceivedEvent, parse_sse_lines
from firm.hub import RunHub
from graph.events import RunFinished, Token
from persistence.db import make_engine
from persistence.events import read_events


def _read(
    client: httpx.Client, url: str, *, last_id: int | None = None, stop_after: int | None = None
) -> list[ReceivedEvent]:
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    received: list[ReceivedEvent] = []
    with client.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_sse_lines(response.iter_lines()):
            received.append(event)
            if stop_after is not None and len(received) >= stop_after:
                break  # leaving the block drops the connection mid-stream
    return received


def _new_run(engine: Engine, run_id: str) -> None:
    create_run(
        engine,
        run_id=run_id,
        kind="analysis",
        symbol="BTCUSDT",
        interval="1h",
        portfolio_id=None,
        params={},
    )


async def _body(relay: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in relay])


def _events(frames: bytes) -> list[ReceivedEvent]:
    """The events in whole SSE frames, as a relay writes them."""
    return list(parse_sse_lines(iter(frames.decode().split("\n"))))


def _engine_of(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


def test_disconnect_and_resume_gets_every_event_exactly_once(
    scripted_app: Callable[..., FastAPI],
    serve: Callable[[FastAPI], str],
    scripted: Any,
) -> None:
    app = scripted_app(scripted(tokens=120, delay=0.01))
    base = serve(app)
    with httpx.Client(base_url=base) as client:
        run_id = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"}).json()["run_id"]
        url = f"/api/analysis/runs/{run_id}/events"
        first = _read(client, url, stop_after=25)
        assert len(first) == 25
        time.sleep(0.3)  # the run keeps going without any client attached
        rest = _read(client, url, last_id=first[-1].id)

    seqs = [e.id for e in first + rest]
    persisted = read_events(_engine_of(app), run_id)
    assert seqs == [e.seq for e in persisted]
    assert seqs == list(range(1, len(persisted) + 1))
    assert len(set(seqs)) == len(seqs)
    assert [e.event for e in first + rest] == [e.type for e in persisted]
    assert rest[-1].event == "run_finished"
    assert rest[-1].data["status"] == "completed"
    tokens = [e for e in first + rest if e.event == "token"]
    assert len(tokens) == 120
    assert {t.data["node"] for t in tokens} == {"technical", "sentiment"}


def test_late_subscriber_replays_from_the_store(
    scripted_app: Callable[..., FastAPI], scripted: Any
) -> None:
    app = scripted_app(scripted(tokens=10))
    with TestClient(app) as client:
        run_id = client.post("/api/analysis/runs", json={"symbol": "ETHUSDT"}).json()["run_id"]
        manager: RunManager = app.state.run_manager
        client.portal.call(manager.wait, run_id)  # type: ignore[union-attr]
        assert client.get(f"/api/analysis/runs/{run_id}").json()["last_event_seq"] == 15
        with client.stream("GET", f"/api/analysis/runs/{run_id}/events?after=12") as response:
            events = list(parse_sse_lines(response.iter_lines()))
    assert [e.id for e in events] == [13, 14, 15]


def test_bad_last_event_id_is_422_naming_the_header(client: TestClient) -> None:
    response = client.get("/api/analysis/runs/whatever/events", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422
    assert "Last-Event-ID" in response.json()["detail"]


def test_unknown_run_stream_is_404(client: TestClient) -> None:
    response = client.get("/api/analysis/runs/nope/events")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_a_run_of_another_kind_is_404_on_the_stream(
    scripted_app: Callable[..., FastAPI], scripted: Any
) -> None:
    """The relay's first read is the 404 check — also when a relay of that run is already
    open in the process (the shared tail knows the run's kind)."""
    app = scripted_app(scripted(tokens=200, delay=0.01))
    with TestClient(app) as client:
        run_id = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"}).json()["run_id"]
        assert client.get(f"/api/backtests/{run_id}/events").status_code == 404  # no tail yet
        with client.stream("GET", f"/api/analysis/runs/{run_id}/events") as live:
            assert live.status_code == 200
            lines = live.iter_lines()
            next(parse_sse_lines(lines))  # the relay (and its tail) is running
            other = client.get(f"/api/backtests/{run_id}/events")
            assert other.status_code == 404, other.text
            assert run_id in other.json()["detail"]
            assert client.get(f"/api/sessions/{run_id}/events").status_code == 404


def test_a_frame_keeps_its_data_on_one_line() -> None:
    """Stored JSON is sent as it is; JSON stored over several lines would end the SSE data
    early, so such a body is re-encoded on one line."""
    assert sse_frame(7, "token", '{"text": "a"}') == (
        b'id: 7\r\nevent: token\r\ndata: {"text": "a"}\r\n\r\n'
    )
    assert sse_frame(7, "token", '{\n  "text": "a"\n}') == (
        b'id: 7\r\nevent: token\r\ndata: {"text":"a"}\r\n\r\n'
    )


async def test_relays_of_one_run_share_a_tail_and_outlive_each_other(
    sqlite_engine: Engine,
) -> None:
    """Two relays of one run in a process: the first leaving early does not stop the second
    (the tail lives while any relay is open), and each gets every event exactly once."""
    from firm.recorder import RunRecorder

    _new_run(sqlite_engine, "r3")
    hub = RunHub()
    manager = RunManager(sqlite_engine, queue=None, hub=hub, poll_seconds=5.0)  # type: ignore[arg-type]
    gate = asyncio.Event()

    async def source() -> Any:
        for i in range(300):
            yield Token(run_id="r3", node="technical", message_id="m", text=str(i))
            if i == 10:
                await gate.wait()
        yield RunFinished(run_id="r3", status="completed")

    recorder = RunRecorder(sqlite_engine, "r3", wake=hub.wake, flush_interval=0.01)
    recording = asyncio.create_task(recorder.record(source()))
    for _ in range(1000):  # the run is under way, held at the gate after 11 tokens
        if len(read_events(sqlite_engine, "r3")) == 11:
            break
        await asyncio.sleep(0.01)
    assert len(read_events(sqlite_engine, "r3")) == 11
    early = await manager.relay("r3", "analysis", 0)
    late = await manager.relay("r3", "analysis", 0)
    assert early is not None and late is not None
    assert await manager.relay("r3", "backtest", 0) is None
    first_chunk = await anext(early)
    assert first_chunk.startswith(b"id: 1\r\nevent: token\r\n")
    await early.aclose()  # a client gone after its first chunk
    gate.set()
    body = await asyncio.wait_for(_body(late), 30)  # a tail stopped with the early relay: stuck
    assert await recording == "completed"
    events = _events(body)
    assert [e.id for e in events] == list(range(1, 302))
    assert events[-1].event == "run_finished"
    assert manager.relays.waiting == 0  # nothing left registered for wake-ups
    assert manager.relays.following == 0


def test_failing_run_ends_with_error_and_failed_status(
    scripted_app: Callable[..., FastAPI], scripted: Any
) -> None:
    app = scripted_app(scripted(tokens=10, fail_after=4))
    with TestClient(app) as client:
        run_id = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"}).json()["run_id"]
        client.portal.call(app.state.run_manager.wait, run_id)  # type: ignore[union-attr]
        run = client.get(f"/api/analysis/runs/{run_id}").json()
        with client.stream("GET", f"/api/analysis/runs/{run_id}/events") as response:
            events = list(parse_sse_lines(response.iter_lines()))
    assert run["status"] == "failed"
    assert "scripted failure" in run["error"]
    assert [e.event for e in events[-2:]] == ["error", "run_finished"]
    assert events[-1].data["status"] == "failed"
    assert [e.id for e in events] == list(range(1, len(events) + 1))


async def test_tokens_are_written_in_batches_in_order(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firm import recorder as rec

    batches: list[list[int]] = []
    real_append = rec.append_events

    def spy(engine: Engine, events: Any, **kwargs: Any) -> None:
        batches.append([e.seq for e in events])
        real_append(engine, events, **kwargs)

    monkeypatch.setattr(rec, "append_events", spy)
    _new_run(sqlite_engine, "r1")

    async def source() -> Any:
        for i in range(300):
            yield Token(run_id="r1", node="technical", message_id="m", text=str(i))
        yield RunFinished(run_id="r1", status="completed")

    status = await rec.RunRecorder(sqlite_engine, "r1", flush_interval=0.05).record(source())
    assert status == "completed"
    persisted = read_events(sqlite_engine, "r1")
    assert [e.seq for e in persisted] == list(range(1, 302))
    assert [e.data["text"] for e in persisted[:300]] == [str(i) for i in range(300)]
    assert sum(len(b) for b in batches) == 301
    assert len(batches) < 30, f"tokens were not batched: {len(batches)} inserts"


async def test_live_subscriber_sees_events_only_after_they_are_persisted(
    sqlite_engine: Engine,
) -> None:
    from firm.recorder import RunRecorder

    _new_run(sqlite_engine, "r2")
    gate = asyncio.Event()

    async def source() -> Any:
        for i in range(5):
            yield Token(run_id="r2", node="technical", message_id="m", text=str(i))
            await asyncio.sleep(0.02)
        await gate.wait()
        yield RunFinished(run_id="r2", status="completed")

    hub = RunHub()
    recorder = RunRecorder(sqlite_engine, "r2", wake=hub.wake, flush_interval=0.01)
    recording = asyncio.create_task(recorder.record(source()))
    manager = RunManager(sqlite_engine, queue=None, hub=hub)  # type: ignore[arg-type]
    relay = await manager.relay("r2", "analysis", 0)
    assert relay is not None
    seen = []
    async for chunk in relay:
        persisted = {e.seq for e in read_events(sqlite_engine, "r2")}
        for event in _events(chunk):
            assert event.id in persisted
            seen.append(event.id)
        if len(seen) == 5:
            gate.set()
    assert seen == [1, 2, 3, 4, 5, 6]
    assert await recording == "completed"
    fresh = make_engine(str(sqlite_engine.url))
    assert len(read_events(fresh, "r2")) == 6


async def test_a_resumed_run_reports_each_fill_once(sqlite_engine: Engine) -> None:
    """A worker died after a fill's `trade` event but before the node's checkpoint: the
    resumed run re-runs the node, the ledger returns the same fill (idempotent) and the node
    reports it again — the stream keeps one event per fill."""
    from firm.recorder import RunRecorder
    from graph.events import TradeEvent

    _new_run(sqlite_engine, "r3")

    def trade(trade_id: int) -> TradeEvent:
        return TradeEvent(
            run_id="r3",
            portfolio_id=1,
            trade_id=trade_id,
            symbol="BTCUSDT",
            side="buy",
            quantity=0.01,
            price=30_000.0,
            fee=0.3,
        )

    async def before_the_crash() -> Any:
        yield trade(7)  # the worker dies here: no run_finished

    async def resumed() -> Any:
        yield trade(7)  # the re-run node reports the same fill
        yield trade(8)
        yield RunFinished(run_id="r3", status="completed")

    assert await RunRecorder(sqlite_engine, "r3").record(before_the_crash()) is None
    assert await RunRecorder(sqlite_engine, "r3").record(resumed()) == "completed"
    persisted = read_events(sqlite_engine, "r3")
    assert [e.seq for e in persisted] == [1, 2, 3]
    assert [e.data.get("trade_id") for e in persisted if e.type == "trade"] == [7, 8]


async def test_a_relay_reads_a_long_history_in_pages_past_a_pause(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished run that was paused and approved: its first `run_finished` (paused) may
    end a page; the relay reads on to the last event instead of ending there."""
    import api.relays
    from persistence.events import StoredEvent, append_events

    monkeypatch.setattr(api.relays, "FIRST_PAGE", 4)
    monkeypatch.setattr(api.relays, "PAGE", 2)
    _new_run(sqlite_engine, "r5")
    types = ["run_started", "token", "token", "run_finished"] * 2 + ["token", "run_finished"]
    append_events(
        sqlite_engine,
        [StoredEvent(run_id="r5", seq=i + 1, type=t, data={"n": i}) for i, t in enumerate(types)],
        run_update={"status": "completed"},
    )
    manager = RunManager(sqlite_engine, queue=None, hub=RunHub())  # type: ignore[arg-type]
    abandoned = await manager.relay("r5", "analysis", 0)  # a client gone before reading
    relay = await manager.relay("r5", "analysis", 0)
    assert abandoned is not None and relay is not None
    body = await asyncio.wait_for(_body(relay), 30)
    assert manager.relays.following == 0  # finished: no tail kept, read or not
    events = _events(body)
    assert [e.id for e in events] == list(range(1, len(types) + 1))
    assert [e.data["n"] for e in events] == list(range(len(types)))
