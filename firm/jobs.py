"""Runs are jobs on a durable queue (procrastinate), executed by workers.

- Postgres: `procrastinate.PsycopgConnector` on the firm's database (procrastinate's tables
  beside ours, created once by `ensure_queue_schema`); `cryptofirm worker` processes run jobs
  and any API replica enqueues, cancels and answers them.
- SQLite (the embedded default): the same tasks on procrastinate's in-process connector, run
  by a worker inside `cryptofirm serve`; nothing outlives the process, so at start-up every
  run still pending/running is enqueued again (`firm.sweep.recover_all`).

A job carries only the run id (and a human's answer): parameters live on the run row. Jobs of
one run share the lock `run:<id>`, so two never execute it at once. Every job is idempotent:
it claims the run (`firm.runs.claim_attempt`), resumes from what is persisted (the LangGraph
checkpoint of an analysis, the engine checkpoint of a backtest, a trading session's
`session_ticks`/`session_bars`, the ledger's fills by `client_order_id`) and records through
`firm.recorder`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import procrastinate
from procrastinate.job_context import AbortReason, JobContext
from sqlalchemy import Engine

from core.settings import Settings
from firm.hub import RunHub
from firm.job_metrics import observed
from firm.recorder import RunRecorder
from firm.runners import AnalysisParams, AnalysisRunner
from firm.runs import Claim, claim_attempt, end_run, set_job
from graph.events import ErrorEvent

logger = logging.getLogger("firm.jobs")

QUEUE = "runs"
SCHEMA_LOCK_KEY = 7_312_024_111
"""Advisory lock serialising the one-time creation of procrastinate's schema."""


@dataclass
class JobRuntime:
    """What a worker's jobs use: one per worker process (or per embedded worker)."""

    engine: Engine
    settings: Settings
    analysis_runner: AnalysisRunner
    hub: RunHub = field(default_factory=RunHub)
    backtest_decider: Any = None
    """graph.backtest.runs.DeciderFactory override (tests); None = the desk."""
    fence: RunFence | None = None
    """Postgres: the process's run fence (set by `firm.worker`); None with SQLite."""
    session_options: dict[str, Any] = field(default_factory=dict)
    """Seams of `sessions.runner.run_session` (tests: a fake wall clock, a Binance client)."""


def _runtime(context: JobContext) -> JobRuntime:
    runtime: JobRuntime = context.additional_context["runtime"]
    return runtime


def _user_cancelled(context: JobContext) -> bool:
    return context.abort_reason() == AbortReason.USER_REQUEST


async def analysis_job(
    context: JobContext, run_id: str, answer: dict[str, Any] | None = None, recovery: bool = False
) -> str | None:
    """Start, resume (after a dead worker) or answer (approve/reject) analysis `run_id`."""
    rt = _runtime(context)
    async with _fence(rt, run_id) as alone:
        if not alone:
            return None
        claim = await _claim(context, rt, run_id, answer=answer is not None, recovery=recovery)
        if claim is None:
            return None
        return await _analysis(context, rt, run_id, claim, answer)


async def _analysis(
    context: JobContext,
    rt: JobRuntime,
    run_id: str,
    claim: Claim,
    answer: dict[str, Any] | None,
) -> str | None:
    runner = rt.analysis_runner
    if answer is not None:
        source = runner.resume(
            run_id, approved=bool(answer.get("approved")), note=str(answer.get("note", ""))
        )
    elif claim.last_seq == 0:
        params = AnalysisParams(
            symbol=claim.symbol,
            interval=claim.interval,
            portfolio_id=claim.portfolio_id,
            execute=bool(claim.params.get("execute")),
            as_of=claim.params.get("as_of"),
        )
        source = runner.start(run_id, params)
    else:
        source = runner.resume(run_id, approved=None, note="")
    return await _record(context, rt, run_id, _announced(run_id, claim.recoveries, source))


async def backtest_job(context: JobContext, run_id: str, recovery: bool = False) -> str | None:
    """Run backtest `run_id`, or continue it from its engine checkpoint after a dead worker."""
    from graph.backtest.runs import stream_backtest

    rt = _runtime(context)
    async with _fence(rt, run_id) as alone:
        if not alone:
            return None
        claim = await _claim(context, rt, run_id, answer=False, recovery=recovery)
        if claim is None:
            return None
        stop = threading.Event()
        source = stream_backtest(
            rt.engine,
            run_id,
            settings=rt.settings,
            decider_factory=rt.backtest_decider,
            cancel=stop,
            finish_run=False,
        )
        announced = _announced(run_id, claim.recoveries, source)
        return await _record(context, rt, run_id, announced, stop)


async def session_job(context: JobContext, run_id: str, recovery: bool = False) -> str | None:
    """Run trading session `run_id` bar by bar until it completes, stops or fails; after a dead
    worker, continue at its first unprocessed bar (`session_ticks`: none skipped, none
    repeated; fills are idempotent by client order id, decisions reused from
    `session_bars`). A worker shutdown leaves the session running for recovery."""
    from sessions.runner import run_session

    rt = _runtime(context)
    async with _fence(rt, run_id) as alone:
        if not alone:
            return None
        claim = await _claim(context, rt, run_id, answer=False, recovery=recovery)
        if claim is None:
            return None
        source = run_session(rt.engine, run_id, settings=rt.settings, **rt.session_options)
        return await _record(context, rt, run_id, _announced(run_id, claim.recoveries, source))


class RunFence:
    """One Postgres connection per worker process holding a session advisory lock for each
    run its jobs execute: the lock lives exactly as long as this process (kill -9 drops the
    connection and with it every lock), so a job re-queued while its first execution is only
    slow, not dead, finds the run taken and leaves it alone. Runs held in this process are
    tracked here too (advisory locks are re-entrant within one session)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._held: set[str] = set()

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            for run_id in sorted(self._held):  # the lost connection's locks went with it
                if not await _try_lock(self._conn, run_id):
                    logger.error("run fence: run %s was taken while the fence reconnected", run_id)
        return self._conn

    async def acquire(self, run_id: str) -> bool:
        import psycopg

        async with self._lock:
            if run_id in self._held:
                return False
            try:
                taken = await _try_lock(await self._connection(), run_id)
            except psycopg.OperationalError:
                # The connection was lost (Postgres restarted, backend terminated) and with it
                # the locks it held: a new one takes them again (`_connection`).
                logger.warning("run fence: connection lost; reconnecting")
                await self._conn.close()
                taken = await _try_lock(await self._connection(), run_id)
            if taken:
                self._held.add(run_id)
            return taken

    async def release(self, run_id: str) -> None:
        import psycopg

        async with self._lock:
            if run_id not in self._held:
                return
            self._held.discard(run_id)
            if self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.OperationalError):  # lost: released with it
                    await self._conn.execute(
                        "SELECT pg_advisory_unlock(hashtext(%s))", (_lock_name(run_id),)
                    )

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def _lock_name(run_id: str) -> str:
    return f"cryptofirm-run:{run_id}"


async def _try_lock(conn: Any, run_id: str) -> bool:
    """Take run `run_id`'s session advisory lock on `conn` if nobody holds it."""
    cursor = await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (_lock_name(run_id),))
    row = await cursor.fetchone()
    return bool(row and row[0])


@contextlib.asynccontextmanager
async def _fence(rt: JobRuntime, run_id: str) -> AsyncIterator[bool]:
    """True when this job is the only one executing `run_id` (see `RunFence`; SQLite: one
    in-process worker, whose queue lock `run:<id>` suffices)."""
    if rt.fence is None:
        yield True
        return
    alone = await rt.fence.acquire(run_id)
    if not alone:
        logger.warning("run %s is being executed by another live job; leaving it", run_id)
    try:
        yield alone
    finally:
        if alone:
            await asyncio.shield(rt.fence.release(run_id))


async def _claim(
    context: JobContext, rt: JobRuntime, run_id: str, *, answer: bool, recovery: bool
) -> Claim | None:
    recovered = recovery or context.job.attempts > 0
    claim = await asyncio.to_thread(
        claim_attempt,
        rt.engine,
        run_id,
        context.job.id,
        answer=answer,
        recovered=recovered,
        worker=context.worker_name,
    )
    if claim is None:
        logger.info("run %s: nothing to do (finished or waiting for approval)", run_id)
        return None
    if claim.recoveries > rt.settings.max_run_recoveries:
        reason = (
            f"its worker died {claim.recoveries} times (limit MAX_RUN_RECOVERIES="
            f"{rt.settings.max_run_recoveries}); not resumed again"
        )
        await asyncio.to_thread(
            end_run, rt.engine, run_id, "failed", reason, only_from=("pending", "running")
        )
        rt.hub.wake(run_id)
        return None
    return claim


async def _announced(run_id: str, recoveries: int, source: AsyncIterator[Any]) -> Any:
    """The source's events, after a warning when this job resumes a dead worker's run."""
    if recoveries:
        yield ErrorEvent(
            run_id=run_id,
            severity="warning",
            message=f"worker lost: resumed from the last checkpoint (recovery {recoveries})",
        )
    async for event in source:
        yield event


async def _record(
    context: JobContext,
    rt: JobRuntime,
    run_id: str,
    source: AsyncIterator[Any],
    stop: threading.Event | None = None,
) -> str | None:
    def on_cancel() -> bool:
        if stop is not None:
            stop.set()  # a backtest thread stops within one bar either way
        return _user_cancelled(context)

    recorder = RunRecorder(rt.engine, run_id, wake=rt.hub.wake)
    return await recorder.record(source, on_cancel=on_cancel, drain_on_cancel=stop is not None)


# --- the queue, as the API and the worker see it --------------------------------------------


class RunQueue:
    """Enqueue, answer and cancel runs on one procrastinate app."""

    def __init__(self, app: procrastinate.App, engine: Engine, hub: RunHub) -> None:
        self.app = app
        self.engine = engine
        self.hub = hub

    async def enqueue(
        self,
        run_id: str,
        kind: str,
        *,
        answer: dict[str, Any] | None = None,
        recovery: bool = False,
    ) -> int:
        kwargs: dict[str, Any] = {"run_id": run_id}
        if recovery:
            kwargs["recovery"] = True
        if answer is not None:
            kwargs["answer"] = answer
        task = self.app.tasks[f"firm:{kind}"]
        # One recovery job per run at a time, however many workers' sweeps notice it.
        queueing_lock = f"recover:{run_id}" if recovery else None
        job_id = await task.configure(
            lock=f"run:{run_id}", queueing_lock=queueing_lock
        ).defer_async(**kwargs)
        await asyncio.to_thread(set_job, self.engine, run_id, job_id)
        return job_id

    async def job_status(self, job_id: int | None) -> str | None:
        if job_id is None:
            return None
        try:
            status = await self.app.job_manager.get_job_status_async(job_id)
        except Exception:  # no such job (e.g. an in-process queue that was restarted)
            return None
        return status.value

    async def cancel(self, run_id: str, job_id: int | None) -> bool:
        """Stop run `run_id`: a queued (or paused) run ends `cancelled` here; a running job
        is asked to abort (its worker hears it at once by LISTEN) and ends the run itself.
        False when the run had already finished."""
        status = await self.job_status(job_id)
        if status == "doing":
            assert job_id is not None
            return await self.app.job_manager.cancel_job_by_id_async(job_id, abort=True)
        if status == "todo":
            await self.app.job_manager.cancel_job_by_id_async(job_id)  # type: ignore[arg-type]
            if await self.job_status(job_id) == "doing":  # a worker took it meanwhile
                return await self.app.job_manager.cancel_job_by_id_async(
                    job_id,  # type: ignore[arg-type]
                    abort=True,
                )
        from firm.runs import OPEN

        ended = await asyncio.to_thread(
            end_run, self.engine, run_id, "cancelled", None, only_from=OPEN
        )
        self.hub.wake(run_id)
        return ended


def make_app(settings: Settings) -> procrastinate.App:
    """The procrastinate app for `settings.database_url` (not opened)."""
    from graph.checkpoint import postgres_conninfo, uses_postgres

    if uses_postgres(settings.database_url):
        connector: Any = procrastinate.PsycopgConnector(
            conninfo=postgres_conninfo(settings.database_url), min_size=1, max_size=4
        )
    else:
        from procrastinate.testing import InMemoryConnector

        connector = InMemoryConnector()
    app = procrastinate.App(connector=connector)
    jobs = (("analysis", analysis_job), ("backtest", backtest_job), ("session", session_job))
    for name, func in jobs:
        app.task(name=f"firm:{name}", queue=QUEUE, pass_context=True)(observed(func))
    return app


def ensure_queue_schema(settings: Settings) -> None:
    """Create procrastinate's tables once (Postgres; under an advisory lock)."""
    import psycopg
    from procrastinate.schema import SchemaManager

    from graph.checkpoint import postgres_conninfo, uses_postgres

    if not uses_postgres(settings.database_url):
        return
    with psycopg.connect(postgres_conninfo(settings.database_url)) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found is None or found[0] is None:
            conn.execute(SchemaManager.get_schema())  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def open_queue(settings: Settings, engine: Engine, hub: RunHub) -> AsyncIterator[RunQueue]:
    """The run queue for this process, open for the block."""
    await asyncio.to_thread(ensure_queue_schema, settings)
    app = make_app(settings)
    async with app.open_async():
        yield RunQueue(app, engine, hub)
