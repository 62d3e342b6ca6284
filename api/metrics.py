"""`/metrics` (Prometheus text format) and the HTTP middleware feeding core/metrics.py.

`/metrics` sits outside `/api` and outside the API key on purpose: it is for the monitoring
system inside the network (compose network, VPC), not for browsers. CloudFront forwards only
`/api/*`, and the ALB answers 403 for `/metrics` (infra/aws/app.yaml), so a deployment exposes
it to nothing but scrapers inside the VPC (docs/deploy.md, "Metrics").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import HTTP_LATENCY, HTTP_REQUESTS, QueueCount, register_queue_reader
from firm.job_metrics import read_queue_depth

logger = logging.getLogger("api.metrics")

METRICS_PATH = "/metrics"
QUEUE_REPORT_SECONDS = 60.0


class HttpMetricsMiddleware:
    """Counts requests and observes their latency by route template (`/api/runs/{run_id}`,
    never the concrete path: bounded label values). Unmatched paths are `unmatched`; the UI's
    static files are `static`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = _route_label(scope)
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


def _route_label(scope: Scope) -> str:
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        # A mount (the UI's static files) sets an endpoint but no route.
        return "static" if scope.get("endpoint") is not None else "unmatched"
    # Routers included with a prefix (`/api`) keep their own path in the route: put the
    # prefix back, taken from the concrete path (the prefix has no parameters).
    path = str(scope.get("path", ""))
    regex = getattr(route, "path_regex", None)
    if regex is not None and not regex.match(path):
        for i in range(1, len(path)):
            if path[i] == "/" and regex.match(path[i:]):
                return path[:i] + template
    return template


async def _report_queue_depth(engine: Engine, every_s: float) -> None:
    while True:
        try:
            counts = await asyncio.to_thread(read_queue_depth, engine)
        except Exception:
            logger.exception("queue depth: reading the jobs table failed")
            counts = None
        if counts is not None:
            todo = sum(c.jobs for c in counts if c.status == "todo")
            doing = sum(c.jobs for c in counts if c.status == "doing")
            logger.info("queue depth", extra={"todo": todo, "doing": doing})
        await asyncio.sleep(every_s)


@asynccontextmanager
async def queue_depth_reporting(
    engine: Engine, every_s: float = QUEUE_REPORT_SECONDS
) -> AsyncIterator[None]:
    """Log the queue depth every `every_s` seconds while the app runs (`event` = "queue
    depth", fields `todo` and `doing`; nothing while there is no queue table). In the cloud a
    CloudWatch metric filter turns these JSON lines into the metric the worker service scales
    on (infra/aws/worker.yaml): no AWS SDK in the app."""
    task = asyncio.create_task(_report_queue_depth(engine, every_s), name="queue-depth")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def install_metrics(app: FastAPI) -> None:
    """The middleware, the `/metrics` route (before the UI's catch-all mount) and the queue
    reader (on the engine the lifespan creates)."""
    app.add_middleware(HttpMetricsMiddleware)

    def queue_depth() -> list[QueueCount] | None:
        engine: Engine | None = getattr(app.state, "engine", None)
        return None if engine is None else read_queue_depth(engine)

    register_queue_reader(queue_depth)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
