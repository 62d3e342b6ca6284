"""The fault suite: `kill -9` of worker processes at random points while they execute analyses
that trade and backtests, at least KILLS times; replacements start, and afterwards every run
has reached a terminal state with a complete event stream, each analysis has exactly the fills
its decision calls for (one per approved buy, never a duplicate), every fill has its `trade`
event, every portfolio reconciles with its ledger, and every backtest's result equals the one
of an uninterrupted run.
"""

from __future__ import annotations

import random
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from firm_helpers import (
    BARS,
    FirmDb,
    Processes,
    check_run_events,
    enqueue,
    new_analysis,
    statuses,
    trades_of,
    uptrend,
    wait_finished,
)
from sqlalchemy import select

from graph.backtest.runs import create_backtest_run, run_backtest
from graph.backtest.schemas import BacktestParams
from persistence.ledger import reconcile
from persistence.models import BacktestResult, Run

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

KILLS = 20
TERMINAL = {"completed", "failed", "cancelled", "budget_exceeded"}


def _backtest_params() -> BacktestParams:
    opens = uptrend().open_time
    start, end = int(opens.iloc[BARS - 500]), int(opens.iloc[BARS - 300])
    return BacktestParams(
        symbol="BTCUSDT",
        interval="1h",
        start=datetime.fromtimestamp(start / 1000, UTC),
        end=datetime.fromtimestamp(end / 1000, UTC),
        every=4,
    )


def _busy_workers(db: FirmDb, procs: list[Any]) -> list[tuple[int, str]]:
    """(pid, kind of a run it is executing right now) pairs."""
    names = {f"{socket.gethostname()}:{p.pid}": p.pid for p in procs if p.poll() is None}
    with db.engine.connect() as conn:
        rows = conn.execute(select(Run.worker, Run.kind).where(Run.status == "running"))
        return sorted({(names[r.worker], r.kind) for r in rows if r.worker in names})


def _why(db: FirmDb) -> list[Any]:
    """The analyses' decisions and errors, to say why nothing was bought."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(Run.status, Run.error, Run.result).where(Run.kind == "analysis"))
        return [(r.status, r.error, (r.result or {}).get("decision")) for r in rows]


def _check_analysis(db: FirmDb, run_id: str) -> int:
    events = check_run_events(db.engine, run_id)
    with db.engine.connect() as conn:
        run = conn.execute(select(Run).where(Run.id == run_id)).one()
    assert run.status == "completed", (run_id, run.status, run.error)
    decision = (run.result or {}).get("decision") or {}
    should_fill = decision.get("action") == "buy" and decision.get("approved")
    trades = trades_of(db.engine, run_id)
    assert len(trades) == (1 if should_fill else 0), (run_id, decision, trades)
    reported = [e["trade_id"] for e in events if e["type"] == "trade"]
    assert sorted(reported) == sorted(t.id for t in trades), (run_id, reported)
    for trade in trades:
        assert trade.client_order_id == f"run:{run_id}"
    assert reconcile(db.engine, run.portfolio_id) == []
    return len(trades)


def test_kill_dash_nine_workers_mid_run(firm_db: FirmDb, processes: Processes) -> None:
    db = firm_db
    params = _backtest_params()
    workers = [processes.worker(concurrency=3) for _ in range(3)]
    analyses: list[str] = []
    backtests: list[str] = []
    killed: dict[str, int] = {"analysis": 0, "backtest": 0}
    rng = random.Random(12)
    deadline = time.monotonic() + 720  # a bound for a loaded 2-core machine, not a target
    while sum(killed.values()) < KILLS:
        assert time.monotonic() < deadline, f"only {killed} mid-run kills"
        active = [
            r for r, s in statuses(db.engine, analyses + backtests).items() if s not in TERMINAL
        ]
        if len(active) < 6:
            fresh = [(new_analysis(db), "analysis") for _ in range(4)]
            if len(backtests) < 6:
                fresh.append(
                    (create_backtest_run(db.engine, params, settings=db.settings()), "backtest")
                )
            analyses += [r for r, k in fresh if k == "analysis"]
            backtests += [r for r, k in fresh if k == "backtest"]
            enqueue(db, fresh)
        busy = _busy_workers(db, workers)
        if not busy:
            time.sleep(0.1)
            continue
        time.sleep(rng.uniform(0.0, 0.4))  # a random point inside the run
        fewest = min(killed[kind] for _, kind in busy)  # alternate analyses and backtests
        pid, kind = rng.choice([(p, k) for p, k in busy if killed[k] == fewest])
        victim = next(w for w in workers if w.pid == pid)
        victim.kill()
        victim.wait()
        killed[kind] += 1
        workers = [w for w in workers if w.poll() is None] + [processes.worker(concurrency=3)]
    assert killed["analysis"] > 0 and killed["backtest"] > 0, killed

    all_runs = analyses + backtests
    wait_finished(db, all_runs, 240, "every run to finish after the kills")
    # Only the killed workers died: none stopped by itself (e.g. after being declared dead).
    assert all(w.poll() is None for w in workers), [w.returncode for w in workers]
    fills = sum(_check_analysis(db, run_id) for run_id in analyses)
    assert fills > 0, f"the desk bought nothing (the suite would not test fills): {_why(db)}"

    reference_id = create_backtest_run(db.engine, params, settings=db.settings())
    reference = run_backtest(db.engine, reference_id, settings=db.settings())
    for run_id in backtests:
        check_run_events(db.engine, run_id)
        with db.engine.connect() as conn:
            run = conn.execute(select(Run).where(Run.id == run_id)).one()
            result = conn.execute(
                select(BacktestResult).where(BacktestResult.run_id == run_id)
            ).one()
        assert run.status == "completed", (run_id, run.status, run.error)
        assert result.trades == [t.model_dump(mode="json") for t in reference.trades]
        assert result.metrics == (
            reference.metrics.model_dump(mode="json") if reference.metrics else {}
        )
    with db.engine.connect() as conn:
        recoveries = (
            conn.execute(select(Run.recoveries).where(Run.id.in_(all_runs))).scalars().all()
        )
    assert sum(recoveries) >= KILLS // 2, recoveries  # the kills really hit running runs
