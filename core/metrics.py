"""The firm's Prometheus metric families, and the hooks that feed them.

Families are module-level (one process registry, `prometheus_client.REGISTRY`); the API serves
them at `/metrics` (api/metrics.py), a worker process with `serve_worker_metrics`. Every
series is fed where the fact is recorded anyway, never by a second bookkeeping path:

- run events (`observe_run_event`, called as `persistence.events.append_events` writes them):
  runs started/finished by kind and status, fills, risk-gate rejections, budget stops;
- model calls (`observe_llm_call`, called by `graph.costs.CostLog.record`, the `agent_logs`
  writer) and fallbacks (`observe_llm_fallback`, `graph.llm.call_agent`);
- jobs (`observe_job`, for the job queue's worker) and queue depth (`QueueDepthCollector`,
  read from the queue's table at scrape time);
- HTTP requests (api/metrics.py's middleware).

Label values are bounded sets (route templates, agent and model names, statuses), never ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger("core.metrics")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SLOW_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)

HTTP_REQUESTS = Counter(
    "cryptofirm_http_requests",
    "HTTP requests by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "cryptofirm_http_request_duration_seconds",
    "HTTP request latency until the response is complete (SSE streams: until they close)",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
RUNS_STARTED = Counter("cryptofirm_runs_started", "Runs started, by kind", ["kind"])
RUNS_FINISHED = Counter(
    "cryptofirm_runs_finished",
    "Runs finished, by kind and final status (completed, failed, cancelled, "
    "budget_exceeded, paused)",
    ["kind", "status"],
)
LLM_CALLS = Counter(
    "cryptofirm_llm_calls",
    "Model calls by agent, model, provider and outcome (ok, error, cached)",
    ["agent", "model", "provider", "outcome"],
)
LLM_TOKENS = Counter(
    "cryptofirm_llm_tokens",
    "Model tokens by agent, model, provider and direction (prompt, completion)",
    ["agent", "model", "provider", "direction"],
)
LLM_COST = Counter(
    "cryptofirm_llm_cost_usd",
    "Model spend in USD (priced with LLM_PRICES) by agent, model and provider",
    ["agent", "model", "provider"],
)
LLM_LATENCY = Histogram(
    "cryptofirm_llm_call_duration_seconds",
    "Model call latency (paid calls, cache hits excluded)",
    ["agent", "model", "provider"],
    buckets=LATENCY_BUCKETS,
)
LLM_FALLBACKS = Counter(
    "cryptofirm_llm_fallbacks",
    "Agent answers replaced by the safe fallback after a failed or unparseable reply",
    ["agent", "model", "provider"],
)
BUDGET_STOPS = Counter(
    "cryptofirm_budget_stops", "Runs stopped by a budget, by scope (run, day)", ["scope"]
)
FILLS = Counter("cryptofirm_fills", "Fills written to the ledger by runs", ["symbol", "side"])
REJECTIONS = Counter(
    "cryptofirm_order_rejections",
    "Trade proposals refused before execution, by stage (risk_gate)",
    ["stage"],
)
JOBS = Counter("cryptofirm_jobs", "Queue jobs finished, by task and status", ["task", "status"])
JOB_WAIT = Histogram(
    "cryptofirm_job_wait_seconds",
    "Time a job waited in the queue before a worker started it",
    ["task"],
    buckets=SLOW_BUCKETS,
)
JOB_DURATION = Histogram(
    "cryptofirm_job_duration_seconds",
    "Time from a worker starting a job to its end, by task and status",
    ["task", "status"],
    buckets=SLOW_BUCKETS,
)


# --- run events -------------------------------------------------------------------------


def observe_run_event(
    event_type: str, data: Mapping[str, Any], kind: str, run_id: str | None = None
) -> None:
    """Count what one persisted run event says (`kind`: the run's kind, analysis | backtest).

    Run ends and budget stops are also logged with their fields (`event` = "run finished" /
    "budget stop"): the CloudWatch metric filters and alarms of infra/aws/monitoring.yaml
    match these JSON lines."""
    if event_type == "run_started":
        RUNS_STARTED.labels(kind).inc()
    elif event_type == "run_finished":
        status = str(data.get("status", "unknown"))
        RUNS_FINISHED.labels(kind, status).inc()
        level = logging.WARNING if status in ("failed", "budget_exceeded") else logging.INFO
        extra = {"run_id": run_id, "run_kind": kind, "status": status}
        logger.log(level, "run finished", extra=extra)
    elif event_type == "trade":
        FILLS.labels(str(data.get("symbol") or "unknown"), str(data.get("side"))).inc()
    elif event_type == "decision":
        if not data.get("approved") and data.get("action") != "hold":
            REJECTIONS.labels("risk_gate").inc()
    elif event_type == "budget" and data.get("exceeded"):
        scope = str(data.get("scope", "unknown"))
        BUDGET_STOPS.labels(scope).inc()
        logger.warning("budget stop", extra={"run_id": run_id, "scope": scope})


# --- model calls ------------------------------------------------------------------------


def observe_llm_call(
    *,
    agent: str,
    model: str,
    provider: str,
    prompt_tokens: int,
    completion_tokens: int,
    cost: Decimal,
    latency_ms: float,
    ok: bool,
    cached: bool,
) -> None:
    outcome = "cached" if cached else ("ok" if ok else "error")
    LLM_CALLS.labels(agent, model, provider, outcome).inc()
    if prompt_tokens:
        LLM_TOKENS.labels(agent, model, provider, "prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels(agent, model, provider, "completion").inc(completion_tokens)
    if cost:
        LLM_COST.labels(agent, model, provider).inc(float(cost))
    if not cached:
        LLM_LATENCY.labels(agent, model, provider).observe(latency_ms / 1000)


def observe_llm_fallback(*, agent: str, model: str, provider: str) -> None:
    LLM_FALLBACKS.labels(agent, model, provider).inc()


# --- jobs and the queue ------------------------------------------------------------------


def observe_job(*, task: str, status: str, wait_s: float | None, run_s: float) -> None:
    """What the worker reports when a job ends: `wait_s` from enqueue (or its scheduled time)
    to start, `run_s` from start to end; `status` succeeded | failed | cancelled | aborted."""
    JOBS.labels(task, status).inc()
    if wait_s is not None:
        JOB_WAIT.labels(task).observe(max(wait_s, 0.0))
    JOB_DURATION.labels(task, status).observe(max(run_s, 0.0))


@dataclass(frozen=True)
class QueueCount:
    queue: str
    status: str
    jobs: int


QueueReader = Callable[[], Iterable[QueueCount] | None]
"""Returns the queue's job counts, or None when there is no queue table (nothing deployed)."""


class QueueDepthCollector(Collector):
    """`cryptofirm_queue_depth{queue,status}` read at scrape time, plus `cryptofirm_queue_up`
    (1 read, 0 no queue table or the read failed: a failure is a series, not a silent 0)."""

    def __init__(self, reader: QueueReader) -> None:
        self.reader = reader

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "cryptofirm_queue_depth",
            "Jobs in the queue by queue name and status (todo, doing), read at scrape time",
            labels=["queue", "status"],
        )
        up = GaugeMetricFamily(
            "cryptofirm_queue_up", "1 when the queue table was read at this scrape, else 0"
        )
        try:
            counts = self.reader()
        except Exception:
            logger.exception("queue depth: reading the jobs table failed")
            counts = None
        for count in counts or ():
            depth.add_metric([count.queue, count.status], count.jobs)
        up.add_metric([], 0 if counts is None else 1)
        return [depth, up]

    def describe(self) -> Iterable[Metric]:
        return []  # collected only at scrape time (it reads the database)


_queue_collector: QueueDepthCollector | None = None


def register_queue_reader(reader: QueueReader) -> None:
    """Install (or replace) the process's queue-depth source on the default registry."""
    global _queue_collector
    if _queue_collector is None:
        _queue_collector = QueueDepthCollector(reader)
        REGISTRY.register(_queue_collector)
    else:
        _queue_collector.reader = reader


def serve_worker_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Expose this process's series on `port` (a worker has no HTTP app of its own)."""
    start_http_server(port, addr=addr)
