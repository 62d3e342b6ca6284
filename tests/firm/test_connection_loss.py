"""Postgres restarted or connections dropped (here: every backend of the test database but the
test's own terminated): workers and API replicas reconnect instead of exiting or failing
every later run and stream."""

from __future__ import annotations

import httpx
import pytest
from firm_helpers import (
    FirmDb,
    Processes,
    enqueue,
    new_analysis,
    registered_workers,
    statuses,
    wait_finished,
    wait_until,
)
from sqlalchemy import text

from api.sse_client import parse_sse_lines

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]


def test_a_worker_outlives_lost_database_connections(firm_db: FirmDb, processes: Processes) -> None:
    """Postgres restarted or connections dropped (here: every backend of the worker
    terminated while it is idle, then again while runs are under way): the worker reconnects
    instead of exiting or failing every later run. Runs cut mid-way end visibly (completed,
    or failed naming the lost connection); runs queued after each loss all complete."""
    db = firm_db
    worker = processes.worker(concurrency=2)
    wait_until(lambda: len(registered_workers(db)) == 1, 120, "the worker to register")

    _terminate_other_backends(db)  # idle: its LISTEN, pool, checkpointer and fence connections
    after_idle = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in after_idle])
    wait_finished(db, after_idle, 120, "the runs after the idle loss to end")

    during = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in during])
    wait_until(lambda: "pending" not in statuses(db.engine, during).values(), 60, "runs to start")
    _terminate_other_backends(db)  # mid-run
    wait_finished(db, during, 120, "the runs cut mid-way to end")
    after = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in after])
    wait_finished(db, after, 120, "the runs after the mid-run loss to end")

    runs = {r[0]: r for r in _runs(db, after_idle + during + after)}
    log = (db.workdir / "worker-0.log").read_text()
    assert worker.poll() is None, log
    for run_id in after_idle + after:
        assert runs[run_id][1] == "completed", (runs[run_id], log[-3000:])
    for run_id in during:
        status, error = runs[run_id][1], runs[run_id][2] or ""
        assert status == "completed" or (status == "failed" and "connection" in error), runs


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


def test_an_api_replica_outlives_lost_database_connections(
    firm_db: FirmDb, processes: Processes
) -> None:
    """After the API's connections (engine, queue, checkpointer, relay reads, LISTEN) were all
    lost, a run starts, streams live to its end and is listed, without a restart."""
    processes.worker(concurrency=2)
    api = processes.api()
    _terminate_other_backends(firm_db)
    started = httpx.post(
        f"{api}/api/analysis/runs", json={"symbol": "BTCUSDT", "interval": "1h"}, timeout=30
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    url = f"{api}/api/analysis/runs/{run_id}/events"
    with httpx.stream("GET", url, timeout=120) as response:
        assert response.status_code == 200, response.read()
        events = list(parse_sse_lines(response.iter_lines()))
    assert events[0].event == "run_started" and events[-1].event == "run_finished"
    assert events[-1].data["status"] == "completed", events[-1].data
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert httpx.get(f"{api}/api/ready", timeout=30).status_code == 200


def test_a_worker_waits_out_a_database_outage(
    firm_db: FirmDb, processes: Processes, pg_admin_dsn: str
) -> None:
    """The database refuses every connection for a while (as when Postgres is down): the
    worker's heartbeat and job fetch fail, it says so and retries instead of exiting, and once
    the database is back it takes the runs queued meanwhile."""
    import psycopg

    db = firm_db
    worker = processes.worker(concurrency=2)
    wait_until(lambda: len(registered_workers(db)) == 1, 120, "the worker to register")
    name = db.url.rsplit("/", 1)[1]
    admin = psycopg.connect(pg_admin_dsn, autocommit=True)  # another database: not refused
    try:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        log_path = db.workdir / "worker-0.log"
        wait_until(
            lambda: worker.poll() is not None or "the database failed it" in log_path.read_text(),
            200,
            "the worker to stop or to say why it is waiting",
        )
        assert worker.poll() is None, log_path.read_text()[-3000:]
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
    db.engine.dispose()  # the test's own connections were terminated too
    runs = [new_analysis(db) for _ in range(2)]
    enqueue(db, [(r, "analysis") for r in runs])
    wait_until(
        lambda: set(statuses(db.engine, runs).values()) == {"completed"},
        120,
        "the runs queued after the outage to complete",
    )
    assert worker.poll() is None, log_path.read_text()
