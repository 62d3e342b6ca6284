"""The run row's life as a job sees it: claim an attempt, end a run that has no job, find
runs that have lost theirs. Every status change that ends a run writes its `run_finished`
event in the same transaction (with the next sequence number, under the row's lock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from graph.events import ErrorEvent, RunFinished
from persistence.db import session_scope
from persistence.events import notify_run
from persistence.models import Run, RunEvent

ACTIVE = ("pending", "running", "stopping")
"""A job is (or should be) executing these (`stopping`: a session finishing its bar)."""
OPEN = (*ACTIVE, "paused")
"""Not finished: a run in these states can still be cancelled."""


@dataclass(frozen=True)
class Claim:
    """What a job found when it took a run."""

    kind: str
    symbol: str
    interval: str
    portfolio_id: int | None
    params: dict[str, Any]
    last_seq: int
    recoveries: int


def claim_attempt(
    engine: Engine,
    run_id: str,
    job_id: int | None,
    *,
    answer: bool,
    recovered: bool,
    worker: str | None = None,
) -> Claim | None:
    """Take `run_id` for this job (under the row's lock): None when there is nothing to do
    (finished, or paused with no answer). `recovered`: a previous job died with the run."""
    with session_scope(engine) as session:
        run = session.scalar(select(Run).where(Run.id == run_id).with_for_update())
        if run is None or run.status not in OPEN or (run.status == "paused" and not answer):
            return None
        if recovered:
            run.recoveries = (run.recoveries or 0) + 1
        run.job_id, run.worker = job_id, worker
        if run.status == "pending":
            run.status = "running"
        run.started_at = run.started_at or datetime.now(UTC)
        last = session.scalar(select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id))
        return Claim(
            kind=run.kind,
            symbol=run.symbol,
            interval=run.interval,
            portfolio_id=run.portfolio_id,
            params=dict(run.params or {}),
            last_seq=int(last or 0),
            recoveries=run.recoveries or 0,
        )


def claim_for_answer(engine: Engine, run_id: str) -> bool:
    """paused → running, atomically: exactly one approve/reject wins."""
    with engine.begin() as conn:
        done = conn.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == "paused")
            .values(status="running", updated_at=datetime.now(UTC))
        )
        notify_run(conn, run_id)
    return bool(done.rowcount)


def set_job(engine: Engine, run_id: str, job_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(job_id=job_id))


def end_run(
    engine: Engine, run_id: str, status: str, error: str | None, *, only_from: tuple[str, ...]
) -> bool:
    """End a run no job is executing (cancel of a queued/paused run, a run that lost its
    job): its error event, `run_finished` and the row in one transaction. False when the run
    was no longer in `only_from`."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        run = session.scalar(select(Run).where(Run.id == run_id).with_for_update())
        if run is None or run.status not in only_from:
            return False
        seq = int(
            session.scalar(select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)) or 0
        )
        events: list[Any] = []
        if error is not None:
            events.append(ErrorEvent(run_id=run_id, message=error))
        events.append(RunFinished(run_id=run_id, status=status))  # type: ignore[arg-type]
        session.execute(
            insert(RunEvent),
            [
                {
                    "run_id": run_id,
                    "seq": seq + i,
                    "type": e.type,
                    "data": e.model_dump(mode="json"),
                }
                for i, e in enumerate(events, start=1)
            ],
        )
        run.status, run.error, run.finished_at, run.updated_at = status, error, now, now
        notify_run(session.connection(), run_id)
    return True


@dataclass(frozen=True)
class ActiveRun:
    id: str
    kind: str
    job_id: int | None
    recoveries: int


def quiet_active_runs(engine: Engine, *, older_than_s: float) -> list[ActiveRun]:
    """Active runs whose row has not changed for `older_than_s` (candidates for the sweep)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Run.id, Run.kind, Run.job_id, Run.recoveries).where(
                Run.status.in_(ACTIVE), Run.updated_at < cutoff
            )
        )
        return [ActiveRun(r.id, r.kind, r.job_id, r.recoveries or 0) for r in rows]


def active_runs(engine: Engine) -> list[ActiveRun]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Run.id, Run.kind, Run.job_id, Run.recoveries).where(Run.status.in_(ACTIVE))
        )
        return [ActiveRun(r.id, r.kind, r.job_id, r.recoveries or 0) for r in rows]


def run_status(engine: Engine, run_id: str) -> str | None:
    with engine.connect() as conn:
        status: str | None = conn.execute(select(Run.status).where(Run.id == run_id)).scalar()
    return status
