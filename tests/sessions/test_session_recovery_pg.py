"""Kill -9 of the worker running a session, on the real Postgres: a restarted worker resumes
it at its first unprocessed bar — no bar lost, none repeated, every decision and fill once,
the portfolio reconciles and the event stream has one end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from session_helpers import (
    check_bars,
    check_limits,
    check_stream,
    import_real,
    session_trades,
    settings_for,
    utc,
    wait_for,
)
from sqlalchemy import select

from persistence import sessions as store
from persistence.db import make_engine, upgrade
from persistence.ledger import reconcile
from persistence.models import Run
from sessions import service
from sessions.schemas import SessionSpec

pytestmark = [pytest.mark.postgres, pytest.mark.realdata, pytest.mark.slow]

CLI = str(Path(sys.executable).with_name("cryptofirm"))
FAST_WORKER = {
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_STALLED_SECONDS": "3",
    "WORKER_SWEEP_SECONDS": "0.5",
    "MAX_RUN_RECOVERIES": "5",
}


@pytest.fixture
def workers(pg_empty_url: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()


def _worker(url: str, tmp: Path, n: int) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "DATABASE_"))},
        "DATABASE_URL": url,
        "DATA_SOURCE": "store",
        "LLM_PROVIDER": "rules",
        "WEB_OUT_DIR": str(tmp / "no-web"),
        "LOG_LEVEL": "WARNING",
        # It shares the cores with other tests (pytest-xdist), not with API replicas: at the
        # default nice 10 it got a tenth of a core and this 67 s test passed its 300 s timeout.
        "WORKER_NICE": "0",
        **FAST_WORKER,
    }
    log = open(tmp / f"worker-{n}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [CLI, "worker", "--concurrency", "2"],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_killed_worker_loses_and_repeats_no_bar(
    pg_empty_url: str,
    tmp_path: Path,
    real_data_dir: Path,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    from firm.hub import RunHub
    from firm.jobs import ensure_queue_schema, open_queue

    upgrade(pg_empty_url)
    engine = make_engine(pg_empty_url)
    import_real(engine, real_data_dir)
    settings = settings_for(pg_empty_url, tmp_path)
    ensure_queue_schema(settings)
    spec = SessionSpec(
        symbols=["BTCUSDT", "ETHUSDT"],
        replay_from=utc("2023-06-01"),
        until=utc("2023-06-22"),  # 504 real 1h bars
        rules=True,
    )
    sid = service.create_session(engine, spec, settings=settings)

    async def enqueue() -> None:
        async with open_queue(settings, engine, RunHub()) as queue:
            await queue.enqueue(sid, "session")

    workers.append(_worker(pg_empty_url, tmp_path, 0))
    asyncio.run(enqueue())
    wait_for(lambda: store.tick_count(engine, sid) >= 120, 240, "120 bars before the kill")
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    killed_at = store.tick_count(engine, sid)
    assert killed_at < 504, "the session finished before the kill: nothing was tested"

    workers.append(_worker(pg_empty_url, tmp_path, 1))
    wait_for(
        lambda: service.get_session(engine, sid).status in ("completed", "failed"),
        400,
        "the session to complete on the second worker",
    )
    view = service.get_session(engine, sid)
    assert view.status == "completed", view.error
    with engine.connect() as conn:
        recoveries = conn.execute(select(Run.recoveries).where(Run.id == sid)).scalar_one()
    assert recoveries >= 1

    ticks = check_bars(engine, sid, ["BTCUSDT", "ETHUSDT"], utc("2023-06-01"))
    assert len(ticks) == 504
    trades = session_trades(engine, sid)
    coids = [t.client_order_id for t in trades]
    assert len(coids) == len(set(coids))
    filled = [r for r in store.decisions(engine, sid) if r.status == "filled"]
    assert sorted(r.trade_id for r in filled) == sorted(
        t.id for t in trades if t.reason == "signal"
    )
    assert check_limits(engine, sid, view.portfolio_id)["buys"] > 5
    assert reconcile(engine, view.portfolio_id) == []
    evs = check_stream(engine, sid, "completed")
    assert any("worker lost" in e.get("message", "") for e in evs if e["type"] == "error")
    engine.dispose()
