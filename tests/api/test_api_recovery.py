"""The embedded default (SQLite, in-process queue): runs left pending/running by a process that
died are picked up again when `cryptofirm serve` starts, and finish with one ordered stream
and a single `run_finished`; a run no worker can finish ends `failed` with the reason."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from test_api_approval import HOUR_TURN_LIMITS, fresh_uptrend

from api.runs_store import create_run
from api.sse_client import parse_sse_lines
from core.settings import Settings
from graph.events import RunStarted
from persistence.candles import store_candles
from persistence.db import init_db
from persistence.events import StoredEvent, append_events
from persistence.models import Run, Trade
from persistence.portfolios import create_portfolio


def test_runs_of_a_dead_process_resume_at_start_up(
    settings_factory: Callable[..., Settings], make_client: Callable[..., TestClient]
) -> None:
    settings = settings_factory(data_source="store")
    engine = init_db(settings.database_url)
    store_candles(engine, "BTCUSDT", "1h", fresh_uptrend(), source="import")
    pid = create_portfolio(engine, "recovered", Decimal(10_000), risk=HOUR_TURN_LIMITS).id
    params = {"symbol": "BTCUSDT", "interval": "1h", "portfolio_id": pid, "execute": True}
    for run_id in ("never-started", "died-mid-run"):
        create_run(
            engine,
            run_id=run_id,
            kind="analysis",
            symbol="BTCUSDT",
            interval="1h",
            portfolio_id=pid,
            params=params,
        )
    # The dead process had started one run: its row says running and its first event exists.
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == "died-mid-run").values(status="running"))
    started = RunStarted(
        run_id="died-mid-run",
        kind="analysis",
        symbol="BTCUSDT",
        interval="1h",
        model_cheap="rules",
        model_strong="rules",
    )
    append_events(
        engine,
        [
            StoredEvent(
                run_id="died-mid-run",
                seq=1,
                type=started.type,
                data=started.model_dump(mode="json"),
            )
        ],
    )

    client = make_client(data_source="store")  # a new process on the same database
    manager = client.app.state.run_manager  # type: ignore[attr-defined]
    for run_id in ("never-started", "died-mid-run"):
        assert client.portal.call(manager.wait, run_id) == "completed"  # type: ignore[union-attr]
        with client.stream("GET", f"/api/analysis/runs/{run_id}/events") as response:
            events = list(parse_sse_lines(response.iter_lines()))
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        assert [e.event for e in events].count("run_finished") == 1
        assert events[-1].event == "run_finished" and events[-1].data["status"] == "completed"
    resumed = [e for e in events if e.event == "error" and e.data["severity"] == "warning"]
    assert resumed and "resumed" in resumed[0].data["message"]
    with engine.connect() as conn:
        trades = conn.execute(select(Trade.client_order_id).order_by(Trade.id)).scalars().all()
        recoveries = conn.execute(select(Run.recoveries).where(Run.id == "died-mid-run"))
    assert sorted(trades) == ["run:died-mid-run", "run:never-started"]
    assert recoveries.scalar_one() == 1
