"""Metrics and structured logs after real runs: `/metrics` (no API key) carries the HTTP,
run, model-call, fill, rejection and budget series; JSON log lines carry the run id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app
from api.runners import AnalysisStart
from api.sse_client import parse_sse_lines
from core.logging import configure_logging, log_context
from core.settings import Settings
from firm.job_metrics import read_queue_depth
from graph.events import BudgetEvent, Decision, RunFinished, RunStarted, TradeEvent

AGENTS = ("technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(client: httpx.Client | TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _run_to_end(client: httpx.Client, body: dict[str, Any]) -> tuple[str, list[str]]:
    accepted = client.post("/api/analysis/runs", json=body)
    assert accepted.status_code == 202, accepted.text
    run_id = str(accepted.json()["run_id"])
    with client.stream("GET", f"/api/analysis/runs/{run_id}/events", timeout=60) as response:
        events = [e.event for e in parse_sse_lines(response.iter_lines())]
    assert events[-1] == "run_finished"
    return run_id, events


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Root logging as JSON lines into a buffer for the test, plain again afterwards."""
    buffer = io.StringIO()
    configure_logging("INFO", "json", stream=buffer, force=True)
    yield buffer
    configure_logging("INFO", "plain", force=True)


def test_metrics_after_a_desk_run_and_json_logs_carry_the_run_id(
    settings_factory: Callable[..., Settings],
    serve: Callable[[FastAPI], str],
    json_log: io.StringIO,
) -> None:
    # An API key is set: /metrics must still answer without it (scraped inside the network).
    app = create_app(settings_factory(api_key="secret-key"))
    base = serve(app)
    with httpx.Client(base_url=base, headers={"X-API-Key": "secret-key"}) as client:
        before = _scrape(client)
        run_id, events = _run_to_end(client, {"symbol": "BTCUSDT", "interval": "1h"})
        with httpx.Client(base_url=base) as anonymous:
            after = _scrape(anonymous)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert events.count("agent_output") == 6
    assert delta("cryptofirm_runs_started_total", kind="analysis") == 1
    assert delta("cryptofirm_runs_finished_total", kind="analysis", status="completed") == 1
    for agent in AGENTS:
        labels = {"agent": agent, "model": "rules", "provider": "rules"}
        assert delta("cryptofirm_llm_calls_total", outcome="ok", **labels) == 1, agent
        assert delta("cryptofirm_llm_call_duration_seconds_count", **labels) == 1, agent
    post = {"method": "POST", "route": "/api/analysis/runs"}
    assert delta("cryptofirm_http_requests_total", status="202", **post) == 1
    assert delta("cryptofirm_http_request_duration_seconds_count", **post) == 1
    sse = {"method": "GET", "route": "/api/analysis/runs/{run_id}/events"}
    assert delta("cryptofirm_http_requests_total", status="200", **sse) == 1
    job = {"task": "firm:analysis", "status": "succeeded"}
    assert delta("cryptofirm_jobs_total", **job) == 1
    assert delta("cryptofirm_job_duration_seconds_count", **job) == 1
    # SQLite has no queue table: the series says so instead of a silent 0.
    assert _value(after, "cryptofirm_queue_up") == 0

    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line.strip()]
    assert lines, "no JSON log lines were written"
    for line in lines:
        assert {"event", "level", "logger", "timestamp"} <= set(line), line
    about_run = [line for line in lines if line.get("run_id") == run_id]
    # The job executing the run logs its end with the job id bound beside the run id.
    (job_end,) = [line for line in about_run if line["logger"] == "firm.jobs"]
    assert isinstance(job_end["job_id"], int) and job_end["event"].endswith("succeeded")
    # The run's end, written where its events are persisted, with its kind and status.
    (finished,) = [line for line in about_run if line["event"] == "run finished"]
    assert finished["status"] == "completed" and finished["run_kind"] == "analysis"


class _EventfulRunner:
    """A desk stand-in whose run rejects one proposal, fills one order and hits the budget:
    the series fed by run events move exactly once each."""

    async def start(self, run_id: str, request: AnalysisStart) -> AsyncIterator[Any]:
        yield RunStarted(
            run_id=run_id,
            kind="analysis",
            symbol=request.symbol,
            interval=request.interval,
            model_cheap="m",
            model_strong="m",
        )
        yield Decision(run_id=run_id, action="buy", size_pct=0, approved=False)
        yield Decision(run_id=run_id, action="hold", size_pct=0, approved=False)
        yield TradeEvent(
            run_id=run_id,
            portfolio_id=1,
            trade_id=1,
            symbol="ETHUSDT",
            side="sell",
            quantity=1.0,
            price=2000.0,
            fee=2.0,
        )
        yield BudgetEvent(
            run_id=run_id,
            scope="day",
            spent_usd=5.0,
            limit_usd=5.0,
            spent_tokens=10,
            limit_tokens=10,
            exceeded=True,
        )
        yield RunFinished(run_id=run_id, status="budget_exceeded")

    async def resume(self, run_id: str, *, approved: bool, note: str) -> AsyncIterator[Any]:
        yield RunFinished(run_id=run_id, status="completed")


def test_fills_rejections_and_budget_stops_are_counted_from_run_events(
    scripted_app: Callable[..., FastAPI], serve: Callable[[FastAPI], str]
) -> None:
    base = serve(scripted_app(_EventfulRunner()))
    with httpx.Client(base_url=base) as client:
        before = _scrape(client)
        _run_to_end(client, {"symbol": "ETHUSDT", "interval": "1h"})
        after = _scrape(client)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("cryptofirm_fills_total", symbol="ETHUSDT", side="sell") == 1
    assert delta("cryptofirm_order_rejections_total", stage="risk_gate") == 1  # holds are not
    assert delta("cryptofirm_budget_stops_total", scope="day") == 1
    assert delta("cryptofirm_runs_finished_total", kind="analysis", status="budget_exceeded") == 1


def test_plain_logs_append_the_bound_context() -> None:
    buffer = io.StringIO()
    configure_logging("INFO", "plain", stream=buffer, force=True)
    try:
        with log_context(run_id="r-1", agent="trader", job_id=None):
            logging.getLogger("cryptofirm.test").info("hello")
        logging.getLogger("cryptofirm.test").info("bye")
    finally:
        configure_logging("INFO", "plain", force=True)
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("cryptofirm.test: hello [run_id=r-1 agent=trader]")
    assert second.endswith("cryptofirm.test: bye")


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log_format"):
        configure_logging("INFO", "xml", force=True)


@pytest.mark.postgres
def test_queue_depth_is_read_from_the_jobs_table(pg_engine: Any) -> None:
    from sqlalchemy import text

    assert read_queue_depth(pg_engine) is None  # no queue schema yet: not a silent zero
    with pg_engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TYPE procrastinate_job_status AS ENUM "
                "('todo', 'doing', 'succeeded', 'failed', 'cancelled', 'aborted')"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE procrastinate_jobs (id bigserial PRIMARY KEY, "
                "queue_name text NOT NULL, status procrastinate_job_status NOT NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, status) VALUES "
                "('runs', 'todo'), ('runs', 'todo'), ('runs', 'doing'), ('runs', 'succeeded')"
            )
        )
    counts = sorted((c.queue, c.status, c.jobs) for c in read_queue_depth(pg_engine) or [])
    assert counts == [("runs", "doing", 1), ("runs", "todo", 2)]
