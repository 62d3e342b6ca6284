"""A worker declared dead while it is alive (a loaded machine stalled its heartbeat past
WORKER_STALLED_SECONDS, and a worker starting meanwhile pruned its row) must not become a
zombie: it re-joins the queue and every run still reaches its end — the runs it was executing
and the runs queued afterwards."""

from __future__ import annotations

import pytest
from firm_helpers import FirmDb, Processes, enqueue, new_analysis, statuses, wait_until
from sqlalchemy import text

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]


def _registered(db: FirmDb) -> list[int]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM procrastinate_workers")).scalars())


def _prune_everyone(db: FirmDb) -> None:
    """What procrastinate's start-up prune does to a worker whose heartbeat is late."""
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_workers"))


def test_a_worker_pruned_while_alive_rejoins_and_finishes_every_run(
    firm_db: FirmDb, processes: Processes
) -> None:
    db = firm_db
    worker = processes.worker(concurrency=2)
    wait_until(lambda: len(_registered(db)) == 1, 120, "the worker to register")
    first = _registered(db)

    during = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in during])
    _prune_everyone(db)  # while those jobs are being fetched or executed
    after = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in after])  # taking one finds the registration gone
    wait_until(
        lambda: set(statuses(db.engine, during + after).values()) == {"completed"},
        120,
        "every run to complete",
    )
    log = (db.workdir / "worker-0.log").read_text()
    assert worker.poll() is None, log
    assert _registered(db) not in ([], first), log  # the same process, registered anew
    assert "declared dead" in log


def test_a_worker_outlives_lost_database_connections(firm_db: FirmDb, processes: Processes) -> None:
    """Postgres restarted or connections dropped (here: every backend of the worker
    terminated while it is idle, then again while runs are under way): the worker reconnects
    instead of exiting or failing every later run. Runs cut mid-way end visibly (completed,
    or failed naming the lost connection); runs queued after each loss all complete."""
    db = firm_db
    worker = processes.worker(concurrency=2)
    wait_until(lambda: len(_registered(db)) == 1, 120, "the worker to register")

    _terminate_other_backends(db)  # idle: its LISTEN, pool, checkpointer and fence connections
    after_idle = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in after_idle])
    _wait_terminal(db, after_idle)

    during = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in during])
    wait_until(lambda: "pending" not in statuses(db.engine, during).values(), 60, "runs to start")
    _terminate_other_backends(db)  # mid-run
    _wait_terminal(db, during)
    after = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in after])
    _wait_terminal(db, after)

    runs = {r[0]: r for r in _runs(db, after_idle + during + after)}
    log = (db.workdir / "worker-0.log").read_text()
    assert worker.poll() is None, log
    for run_id in after_idle + after:
        assert runs[run_id][1] == "completed", (runs[run_id], log[-3000:])
    for run_id in during:
        status, error = runs[run_id][1], runs[run_id][2] or ""
        assert status == "completed" or (status == "failed" and "connection" in error), runs


def _wait_terminal(db: FirmDb, run_ids: list[str]) -> None:
    try:
        wait_until(
            lambda: not {"pending", "running"} & set(statuses(db.engine, run_ids).values()),
            120,
            "the runs to end",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_runs(db, run_ids)}") from None


def _runs(db: FirmDb, run_ids: list[str]) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, status, error, recoveries FROM runs WHERE id = ANY(:ids)"),
            {"ids": run_ids},
        )
        return [tuple(r) for r in rows]


def _terminate_other_backends(db: FirmDb) -> None:
    with db.engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
