"""A worker: procrastinate's worker loop on the `runs` queue plus the run sweep.

`worker_running` runs one inside an existing event loop (the embedded worker of `cryptofirm
serve`); `run_worker` is the whole `cryptofirm worker` process (its own engine, checkpointer
and queue; SIGINT/SIGTERM stop it gracefully: running jobs are left to recovery, never
marked cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from procrastinate.exceptions import ConnectorException

from core.settings import Settings
from firm.jobs import QUEUE, JobRuntime, RunFence, RunQueue, open_queue
from firm.sweep import recover_orphans, sweep_forever

logger = logging.getLogger("firm.worker")

ABORT_POLL_SECONDS = 0.5
"""Fallback when a cancel's notification is missed: a job hears of it within this time."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_options(settings: Settings, runtime: JobRuntime) -> dict[str, Any]:
    return {
        "queues": [QUEUE],
        "name": worker_name(),
        "concurrency": settings.worker_concurrency,
        "install_signal_handlers": False,  # see run_rejoining
        "additional_context": {"runtime": runtime},
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.worker_stalled_seconds,
        "abort_job_polling_interval": ABORT_POLL_SECONDS,
        "fetch_job_polling_interval": max(settings.worker_sweep_seconds, 1.0),
        "shutdown_graceful_timeout": 0.0,
    }


WARM_IMPORTS = ("graph.runner", "graph.backtest.runs", "graph.backtest.desk")
"""Imported off the event loop before taking jobs: LangChain & co. take seconds to import,
which inside a job would block the loop — and with it the worker's heartbeat."""


async def warm_up() -> None:
    for module in WARM_IMPORTS:
        await asyncio.to_thread(importlib.import_module, module)


def _declared_dead(exc: ConnectorException) -> bool:
    """True when the worker could not take a job because its registration is gone: another
    worker starting while this one's heartbeat was late (a loaded machine) pruned it as dead,
    and procrastinate's fetch then breaks the jobs' foreign key to it."""
    import psycopg.errors

    return isinstance(exc.__cause__, psycopg.errors.ForeignKeyViolation)


DATABASE_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before starting the worker loop again after the database failed it (then 30 s each)."""


async def run_rejoining(queue: RunQueue, options: dict[str, Any]) -> None:
    """procrastinate's worker loop, started again whenever the database ended it:
    - declared dead (see `_declared_dead`): re-join at once under a new registration;
    - the database unreachable for longer than its pools ride out (a job fetch failed, or the
      heartbeat did and procrastinate stopped the loop): an error logged with the reason, and
      a new start after `DATABASE_RETRY_SECONDS`.
    The running jobs were stopped as at a shutdown (their runs are left to recovery). Without
    this the process exited — or, in `cryptofirm serve`, its worker task died unseen — and runs
    waited for a worker that was never coming back. Only cancelling the task ends it (the
    signal handlers of `run_worker`, the end of `worker_running`): the loop is run without
    procrastinate's own, so a normal return is always a loop that stopped by itself."""
    failures = 0
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await queue.app.run_worker_async(**options)
            reason = "its heartbeat or listener failed (see the error above)"
        except ConnectorException as exc:
            if _declared_dead(exc):
                logger.error(
                    "worker %s was declared dead by another worker (its heartbeat was late by "
                    "more than WORKER_STALLED_SECONDS): its runs go to recovery; re-joining",
                    options.get("name"),
                )
                continue
            cause = exc.__cause__ or exc
            reason = f"{type(cause).__name__}: {(str(cause).strip().splitlines() or [''])[0]}"
        if asyncio.get_running_loop().time() - started > DATABASE_RETRY_SECONDS[-1]:
            failures = 0  # it had been running: a new outage starts the waits again
        wait = DATABASE_RETRY_SECONDS[min(failures, len(DATABASE_RETRY_SECONDS) - 1)]
        failures += 1
        logger.error(
            "worker %s stopped: the database failed it (%s); starting again in %.0f s",
            options.get("name"),
            reason,
            wait,
        )
        await asyncio.sleep(wait)


def _sweeper(queue: RunQueue, settings: Settings) -> asyncio.Task[None]:
    return asyncio.create_task(
        sweep_forever(
            queue,
            every_seconds=settings.worker_sweep_seconds,
            stalled_seconds=settings.worker_stalled_seconds,
            max_recoveries=settings.max_run_recoveries,
        ),
        name="run-sweep",
    )


@contextlib.asynccontextmanager
async def worker_running(
    queue: RunQueue, runtime: JobRuntime, settings: Settings, *, recover_all: bool = False
) -> AsyncIterator[None]:
    """A worker (and its sweep) in the current event loop for the duration of the block.
    `recover_all`: first give every pending/running run a recovery job (an in-process queue
    starts empty, so runs of a previous process would otherwise wait for the sweep)."""
    await warm_up()
    fence = _fence_for(settings)
    runtime.fence = fence
    if recover_all:
        await recover_orphans(
            queue, quiet_seconds=0, max_recoveries=settings.max_run_recoveries, everything=True
        )
    worker = asyncio.create_task(
        run_rejoining(queue, _worker_options(settings, runtime)),
        name="run-worker",
    )
    sweeper = _sweeper(queue, settings)
    try:
        yield
    finally:
        sweeper.cancel()
        worker.cancel()
        await asyncio.gather(sweeper, worker, return_exceptions=True)
        if fence is not None:
            await fence.close()


def _fence_for(settings: Settings) -> RunFence | None:
    from graph.checkpoint import postgres_conninfo, uses_postgres

    if not uses_postgres(settings.database_url):
        return None
    return RunFence(postgres_conninfo(settings.database_url))


def _serve_metrics(engine: Any, settings: Settings) -> None:
    """This process's Prometheus series (jobs, runs, model calls, queue depth) on
    WORKER_METRICS_PORT; a port already taken is logged as an error, the worker still runs."""
    from core.metrics import register_queue_reader, serve_worker_metrics
    from firm.job_metrics import read_queue_depth

    register_queue_reader(lambda: read_queue_depth(engine))
    try:
        serve_worker_metrics(settings.worker_metrics_port)
    except OSError as exc:
        logger.error("worker metrics: cannot listen on :%s (%s)", settings.worker_metrics_port, exc)


async def _until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it ends or SIGINT/SIGTERM arrives; the signal cancels it (the worker
    stops gracefully: running jobs are left to recovery). A second signal acts as usual."""
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(work, name="run-worker")

    def stop() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_worker(settings: Settings) -> None:
    """The `cryptofirm worker` process: until SIGINT/SIGTERM."""
    from firm.hub import RunHub
    from firm.runners import GraphAnalysisRunner
    from graph.checkpoint import open_checkpointer
    from persistence.db import init_db

    engine = await asyncio.to_thread(init_db, settings.database_url)
    await warm_up()
    hub = RunHub()
    async with (
        open_checkpointer(settings.database_url) as checkpointer,
        open_queue(settings, engine, hub) as queue,
    ):
        runner = GraphAnalysisRunner(engine, settings, checkpointer)
        fence = _fence_for(settings)
        runtime = JobRuntime(
            engine=engine, settings=settings, analysis_runner=runner, hub=hub, fence=fence
        )
        _serve_metrics(engine, settings)
        sweeper = _sweeper(queue, settings)
        logger.info("worker %s on queue %r", worker_name(), QUEUE)
        try:
            await _until_signalled(run_rejoining(queue, _worker_options(settings, runtime)))
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            if fence is not None:
                await fence.close()
