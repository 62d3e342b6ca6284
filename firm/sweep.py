"""No stuck runs: every worker sweeps for runs nobody is executing any more.

1. Jobs of dead workers: a worker that missed its heartbeats for `WORKER_STALLED_SECONDS`
   is dead; its `doing` jobs are put back in the queue (procrastinate's stalled-job retry),
   so another worker resumes their runs from what is persisted.
2. Runs without a live job: a pending/running run whose job is no longer queued or running
   (the enqueuing API died, the job was aborted by a shutdown, an in-process queue was lost)
   gets a recovery job — or, past `MAX_RUN_RECOVERIES`, ends `failed` with the reason.

Both are bounded: a run whose worker died resumes or fails within about
WORKER_STALLED_SECONDS + WORKER_SWEEP_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate.exceptions

from firm.jobs import RunQueue
from firm.runs import active_runs, end_run, quiet_active_runs

logger = logging.getLogger("firm.sweep")

LIVE_JOB = ("todo", "doing")


async def retry_stalled_jobs(queue: RunQueue, stalled_seconds: float) -> int:
    manager = queue.app.job_manager
    jobs = await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds)
    retried = 0
    for job in jobs:
        with contextlib.suppress(Exception):  # another worker's sweep may have taken it
            await manager.retry_job(job)
            retried += 1
            logger.warning("job %s (%s) of a dead worker: queued again", job.id, job.task_kwargs)
    return retried


async def recover_orphans(
    queue: RunQueue, *, quiet_seconds: float, max_recoveries: int, everything: bool = False
) -> int:
    """Give every active run without a live job a recovery job (or fail it past the limit)."""
    runs = await asyncio.to_thread(
        active_runs if everything else quiet_active_runs,  # type: ignore[arg-type]
        queue.engine,
        **({} if everything else {"older_than_s": quiet_seconds}),
    )
    recovered = 0
    for run in runs:
        if await queue.job_status(run.job_id) in LIVE_JOB:
            continue
        if run.recoveries >= max_recoveries:
            reason = (
                f"no worker is executing it and it was resumed {run.recoveries} times "
                f"(limit MAX_RUN_RECOVERIES={max_recoveries})"
            )
            await asyncio.to_thread(
                end_run, queue.engine, run.id, "failed", reason, only_from=("pending", "running")
            )
            queue.hub.wake(run.id)
            continue
        try:
            await queue.enqueue(run.id, run.kind, recovery=True)
        except procrastinate.exceptions.AlreadyEnqueued:
            continue
        recovered += 1
        logger.warning("run %s had no live job: recovery job queued", run.id)
    return recovered


async def sweep_forever(
    queue: RunQueue,
    *,
    every_seconds: float,
    stalled_seconds: float,
    max_recoveries: int,
) -> None:
    while True:
        try:
            await retry_stalled_jobs(queue, stalled_seconds)
            await recover_orphans(
                queue, quiet_seconds=stalled_seconds, max_recoveries=max_recoveries
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("run sweep failed; trying again")
        await asyncio.sleep(every_seconds)
