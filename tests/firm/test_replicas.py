"""Stateless API replicas on one Postgres: two `cryptofirm serve --no-worker` processes and two
`cryptofirm worker` processes. A run started on one API streams from the other (live, through
LISTEN/NOTIFY), is approved on the other (exactly once: the second approval is 409), and its
stream resumes by Last-Event-ID on the first; a backtest cancelled on one replica stops within
a second on whichever worker runs it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from firm_helpers import BARS, HOUR_TURN_LIMITS, FirmDb, Processes, uptrend

from api.sse_client import ReceivedEvent, parse_sse_lines

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(600)]


def _stream(base: str, url: str, last_id: int | None = None) -> list[ReceivedEvent]:
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    with httpx.stream("GET", base + url, headers=headers, timeout=120) as response:
        assert response.status_code == 200, response.read()
        return list(parse_sse_lines(response.iter_lines()))


def _nice(pid: int, tid: str) -> int:
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19 of proc(5): nice


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def test_start_on_one_replica_stream_and_approve_on_the_other(
    firm_db: FirmDb, processes: Processes
) -> None:
    workers = [processes.worker(WORKER_NICE="10"), processes.worker(WORKER_NICE="10")]
    api_a, api_b = processes.api(), processes.api()

    created = httpx.post(
        f"{api_a}/api/portfolios",
        json={
            "name": "replicas",
            "starting_cash": "10000",
            "require_approval": True,
            "risk": HOUR_TURN_LIMITS,
        },
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    started = httpx.post(
        f"{api_a}/api/analysis/runs",
        json={"symbol": "BTCUSDT", "interval": "1h", "portfolio_id": pid, "execute": True},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    paused = _stream(api_b, f"/api/analysis/runs/{run_id}/events")
    assert paused[0].event == "run_started"
    assert paused[-1].event == "run_finished" and paused[-1].data["status"] == "paused"
    waiting = [e for e in paused if e.event == "decision" and e.data["awaiting_approval"]]
    assert waiting and waiting[0].data["action"] == "buy"
    assert [e.id for e in paused] == list(range(1, len(paused) + 1))

    approved = httpx.post(f"{api_b}/api/analysis/runs/{run_id}/approve", json={"note": "ok"})
    assert approved.status_code == 202, approved.text
    again = httpx.post(f"{api_a}/api/analysis/runs/{run_id}/approve")
    assert again.status_code == 409, again.text

    resumed = _stream(api_a, f"/api/analysis/runs/{run_id}/events", last_id=paused[-1].id)
    assert resumed[0].id == paused[-1].id + 1
    assert resumed[-1].event == "run_finished" and resumed[-1].data["status"] == "completed"
    trade_events = [e for e in resumed if e.event == "trade"]
    assert len(trade_events) == 1
    trades: list[dict[str, Any]] = httpx.get(f"{api_b}/api/portfolios/{pid}/trades").json()
    assert [t["id"] for t in trades] == [trade_events[0].data["trade_id"]]
    run = httpx.get(f"{api_b}/api/analysis/runs/{run_id}").json()
    assert run["status"] == "completed"

    # The workers run below the APIs' CPU priority (WORKER_NICE=10, the default), every thread.
    floor = max(10, os.getpriority(os.PRIO_PROCESS, 0))
    for proc in workers:
        assert {_nice(proc.pid, tid) for tid in os.listdir(f"/proc/{proc.pid}/task")} == {floor}

    # Cancel on one replica a backtest streaming from the other: stopped within a second.
    opens = uptrend().open_time
    body = {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "start": _iso(int(opens.iloc[BARS - 900])),
        "end": _iso(int(opens.iloc[BARS - 10])),
    }
    accepted = httpx.post(f"{api_b}/api/backtests", json=body)
    assert accepted.status_code == 202, accepted.text
    bt_id = accepted.json()["run_id"]
    seen: list[ReceivedEvent] = []
    cancelled_at = 0.0
    url = f"{api_a}/api/backtests/{bt_id}/events"
    with httpx.stream("GET", url, timeout=120) as response:
        for event in parse_sse_lines(response.iter_lines()):
            seen.append(event)
            if event.event == "progress" and not cancelled_at:
                cancel = httpx.post(f"{api_b}/api/backtests/{bt_id}/cancel")
                assert cancel.status_code == 202, cancel.text
                cancelled_at = time.monotonic()
    stopped_after = time.monotonic() - cancelled_at
    assert cancelled_at and seen[-1].event == "run_finished"
    assert seen[-1].data["status"] == "cancelled"
    assert stopped_after < 1.0, f"cancel took {stopped_after:.2f} s"
    assert httpx.get(f"{api_a}/api/backtests/{bt_id}").json()["status"] == "cancelled"
