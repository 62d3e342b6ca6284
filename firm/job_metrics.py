"""The queue's depth for the metrics, and every job a worker executes, observed: `job_id` and
`run_id` bound to the log context for the job's duration (core/logging.py), and its outcome,
queue wait and run time reported to core/metrics.py (`cryptofirm_jobs_total`,
`cryptofirm_job_wait_seconds`, `cryptofirm_job_duration_seconds`). Applied to each task in
`firm.jobs.make_app`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from procrastinate.job_context import JobContext
from sqlalchemy import Engine, inspect, text

from core.logging import log_context
from core.metrics import QueueCount, observe_job

logger = logging.getLogger("firm.jobs")

JobFunc = Callable[..., Awaitable[Any]]

QUEUE_TABLE = "procrastinate_jobs"
"""The job queue's table (procrastinate); absent until the queue's schema is applied."""


def read_queue_depth(engine: Engine) -> list[QueueCount] | None:
    """Open jobs per queue and status from the queue table; None when it does not exist."""
    if not inspect(engine).has_table(QUEUE_TABLE):
        return None
    query = text(
        f"SELECT queue_name, status::text, count(*) FROM {QUEUE_TABLE} "
        "WHERE status IN ('todo', 'doing') GROUP BY queue_name, status"
    )
    with engine.connect() as conn:
        return [QueueCount(str(q), str(s), int(n)) for q, s, n in conn.execute(query)]


def queued_at(engine: Engine, job_id: int) -> datetime | None:
    """When the job was deferred (procrastinate's `deferred` event; Postgres only)."""
    if engine.dialect.name != "postgresql":
        return None
    query = text(
        "SELECT min(at) FROM procrastinate_events WHERE job_id = :job_id AND type = 'deferred'"
    )
    with engine.connect() as conn:
        value = conn.execute(query, {"job_id": job_id}).scalar()
    return value if isinstance(value, datetime) else None


def observed(func: JobFunc) -> JobFunc:
    """Wrap a `pass_context` job function taking `run_id`."""

    @functools.wraps(func)
    async def job(context: JobContext, run_id: str, **kwargs: Any) -> Any:
        task = context.job.task_name
        job_id = context.job.id
        started_at = datetime.now(UTC)
        started = time.monotonic()
        status = "failed"
        with log_context(job_id=job_id, run_id=run_id):
            try:
                result = await func(context, run_id, **kwargs)
                status = "succeeded"
                return result
            except asyncio.CancelledError:
                status = "aborted"
                raise
            finally:
                wait_s = await _wait_seconds(context, job_id, started_at)
                observe_job(
                    task=task, status=status, wait_s=wait_s, run_s=time.monotonic() - started
                )
                logger.info("job %s (%s) %s", job_id, task, status)

    return job


async def _wait_seconds(
    context: JobContext, job_id: int | None, started_at: datetime
) -> float | None:
    engine: Engine | None = getattr(context.additional_context.get("runtime"), "engine", None)
    if engine is None or job_id is None:
        return None
    try:
        deferred = await asyncio.to_thread(queued_at, engine, job_id)
    except Exception:
        logger.exception("job %s: could not read when it was queued", job_id)
        return None
    return None if deferred is None else (started_at - deferred).total_seconds()
