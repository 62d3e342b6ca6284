"""A worker declared dead while it is alive (a loaded machine stalled its heartbeat past
WORKER_STALLED_SECONDS, and a worker starting meanwhile pruned its row) must not become a
zombie: it re-joins the queue and every run still reaches its end — the runs it was executing
and the runs queued afterwards."""

from __future__ import annotations

import pytest
from firm_helpers import (
    FirmDb,
    Processes,
    enqueue,
    new_analysis,
    registered_workers,
    statuses,
    wait_until,
)
from sqlalchemy import text

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]


def _prune_everyone(db: FirmDb) -> None:
    """What procrastinate's start-up prune does to a worker whose heartbeat is late."""
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_workers"))


def test_a_worker_pruned_while_alive_rejoins_and_finishes_every_run(
    firm_db: FirmDb, processes: Processes
) -> None:
    db = firm_db
    worker = processes.worker(concurrency=2)
    wait_until(lambda: len(registered_workers(db)) == 1, 120, "the worker to register")
    first = registered_workers(db)

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
    assert registered_workers(db) not in ([], first), log  # the same process, registered anew
    assert "declared dead" in log
