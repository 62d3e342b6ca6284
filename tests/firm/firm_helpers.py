"""Helpers for the run queue on the real Postgres: a firm database with fresh uptrend candles
(the rules desk buys them), real `cryptofirm worker` / `cryptofirm serve` processes, and the
checks every run must pass (terminal, one fill per filled decision, every fill reported,
portfolios reconcile)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from core.settings import Settings
from persistence.models import Run, RunEvent, Trade
from tools.candle_frame import now_ms
from tools.intervals import interval_ms

CLI = str(Path(sys.executable).with_name("cryptofirm"))
BARS = 1400
FAST_WORKER = {
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_STALLED_SECONDS": "3",
    "WORKER_SWEEP_SECONDS": "0.5",
    "MAX_RUN_RECOVERIES": "50",
}


HOUR_TURN_LIMITS = {"max_data_age_bars": 3}
"""Risk limits for portfolios trading `uptrend`: its candles end at the last closed hour when
the fixture runs, and at the next turn of the hour they are two bars old — stale to the
default limit (2). A fault suite running across it saw every analysis refuse to trade ("the
desk bought nothing"); one more bar of tolerance covers any test shorter than an hour."""


def uptrend(bars: int = BARS) -> pd.DataFrame:
    """Hourly candles up to the last closed hour, rising ~0.2% a bar with noise."""
    step = interval_ms("1h")
    last_open = now_ms() // step * step - step
    opens = np.arange(last_open - (bars - 1) * step, last_open + 1, step, dtype=np.int64)
    rng = np.random.default_rng(7)
    close = 30_000 * np.exp(np.cumsum(0.002 + rng.normal(0, 0.003, bars)))
    open_ = np.concatenate([[close[0] / 1.002], close[:-1]])
    return pd.DataFrame(
        {
            "open_time": opens,
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.uniform(50, 100, bars),
        }
    )


@dataclass
class FirmDb:
    url: str
    engine: Engine
    env: dict[str, str]
    workdir: Path

    def settings(self, **overrides: Any) -> Settings:
        return Settings(
            database_url=self.url,
            data_source="store",  # type: ignore[arg-type]
            llm_provider="rules",  # type: ignore[arg-type]
            web_out_dir=self.workdir / "no-web",
            _env_file=None,  # type: ignore[call-arg]
            **overrides,
        )


class Processes:
    """`cryptofirm` processes of one test; all killed at the end."""

    def __init__(self, db: FirmDb) -> None:
        self.db = db
        self.procs: list[subprocess.Popen[bytes]] = []

    def worker(self, concurrency: int = 2, **env: str) -> subprocess.Popen[bytes]:
        """A `cryptofirm worker` on the test's database; `env`: settings of this one."""
        log = open(self.db.workdir / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [CLI, "worker", "--concurrency", str(concurrency)],
            env={**self.db.env, **env},
            cwd=self.db.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def api(self, *, worker: bool = False) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = open(self.db.workdir / f"api-{port}.log", "wb")  # noqa: SIM115
        flag = "--worker" if worker else "--no-worker"
        proc = subprocess.Popen(
            [CLI, "serve", "--port", str(port), flag],
            env=self.db.env,
            cwd=self.db.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, (self.db.workdir / f"api-{port}.log").read_text()
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("API did not start")

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()


def registered_workers(db: FirmDb) -> list[int]:
    """Ids of the workers registered with procrastinate (alive, or dead and not pruned yet)."""
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM procrastinate_workers")).scalars())


def new_analysis(db: FirmDb) -> str:
    """An analysis that executes (the rules desk buys the uptrend) on a portfolio of its own."""
    from api.runs_store import create_run
    from persistence.portfolios import create_portfolio

    run_id = str(uuid.uuid4())
    pid = create_portfolio(db.engine, f"p-{run_id[:8]}", Decimal(10_000), risk=HOUR_TURN_LIMITS).id
    create_run(
        db.engine,
        run_id=run_id,
        kind="analysis",
        symbol="BTCUSDT",
        interval="1h",
        portfolio_id=pid,
        params={"symbol": "BTCUSDT", "interval": "1h", "portfolio_id": pid, "execute": True},
    )
    return run_id


def enqueue(db: FirmDb, runs: list[tuple[str, str]]) -> None:
    """Put (run_id, kind) jobs on the queue, as an API would."""
    from firm.hub import RunHub
    from firm.jobs import open_queue

    async def go() -> None:
        async with open_queue(db.settings(), db.engine, RunHub()) as queue:
            for run_id, kind in runs:
                await queue.enqueue(run_id, kind)

    asyncio.run(go())


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def wait_finished(db: FirmDb, run_ids: list[str], seconds: float, what: str) -> None:
    """Until no run of `run_ids` is active (pending/running/stopping); on timeout the failure
    lists those still active with their recoveries, worker and job status."""
    from sqlalchemy import text

    from firm.runs import ACTIVE

    try:
        wait_until(
            lambda: not set(ACTIVE) & set(statuses(db.engine, run_ids).values()), seconds, what
        )
    except AssertionError as exc:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT r.id, r.status, r.recoveries, r.worker, j.status AS job"
                    " FROM runs r LEFT JOIN procrastinate_jobs j ON j.id = r.job_id"
                    " WHERE r.id = ANY(:ids) AND r.status = ANY(:active)"
                ),
                {"ids": run_ids, "active": list(ACTIVE)},
            )
            raise AssertionError(f"{exc}; unfinished: {[tuple(r) for r in rows]}") from None


def statuses(engine: Engine, run_ids: list[str]) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Run.id, Run.status).where(Run.id.in_(run_ids)))
        return {r.id: r.status for r in rows}


def check_run_events(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """Every run's stream: seq 1..n without gaps, exactly one run_finished, last, matching
    the row's status; returns the events' data."""
    with engine.connect() as conn:
        status = conn.execute(select(Run.status).where(Run.id == run_id)).scalar_one()
        rows = conn.execute(
            select(RunEvent.seq, RunEvent.type, RunEvent.data)
            .where(RunEvent.run_id == run_id)
            .order_by(RunEvent.seq)
        ).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1)), run_id
    finished = [r for r in rows if r.type == "run_finished"]
    assert len(finished) == 1 and rows[-1].type == "run_finished", (run_id, [r.type for r in rows])
    assert finished[0].data["status"] == status, (run_id, status, finished[0].data)
    return [dict(r.data, type=r.type) for r in rows]


def trades_of(engine: Engine, run_id: str) -> list[Trade]:
    with engine.connect() as conn:
        return list(conn.execute(select(Trade).where(Trade.run_id == run_id)).all())  # type: ignore[arg-type]


def trade_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Trade)).scalar_one())
