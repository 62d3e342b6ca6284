"""A run whose process died after the analysts resumes from its last checkpoint (same thread
id, `None` input) without re-running them — on SQLite and on the real Postgres. Also the
human-approval pause: interrupt → approve executes through the ledger, reject trades nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from graph_fakes import FakeModelClient, collect, desk_context, fake_settings, overrides, state_in
from sqlalchemy import select

from graph.checkpoint import open_checkpointer
from graph.graph import compile_desk
from persistence.db import make_engine, session_scope, upgrade
from persistence.models import Run, Trade
from persistence.portfolios import create_portfolio

ANALYSTS = ("technical", "sentiment", "tokenomics")


class SimulatedCrash(BaseException):
    """Escapes every `except Exception`, like the process dying mid-node."""


async def _crash_and_resume(database_url: str) -> None:
    client = FakeModelClient(raise_for={"trader": SimulatedCrash("power cut")})
    ctx = desk_context(client, run_id="crash-1")
    config = {"configurable": {"thread_id": "crash-1"}}
    async with open_checkpointer(database_url) as saver:
        app = compile_desk(saver)
        with pytest.raises(SimulatedCrash):
            await app.ainvoke(state_in(), config=config, context=ctx)  # type: ignore[arg-type]
    assert [client.attempts(a) for a in ANALYSTS] == [1, 1, 1]
    assert client.attempts("researcher") == 1

    # A new process: new saver, new compiled graph, same thread id, no input.
    async with open_checkpointer(database_url) as saver:
        app = compile_desk(saver)
        state = await app.aget_state(config)  # type: ignore[arg-type]
        assert state.next == ("trader",)
        out = await app.ainvoke(None, config=config, context=ctx)  # type: ignore[arg-type]
    assert [client.attempts(a) for a in ANALYSTS] == [1, 1, 1], "analysts were re-run"
    assert client.attempts("researcher") == 1
    assert client.attempts("trader") == 2  # the crashed attempt + the resumed one
    assert out["decision"] is not None and set(out["reports"]) == set(ANALYSTS)


async def test_resume_after_crash_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _crash_and_resume(f"sqlite:///{tmp_path / 'firm.db'}")
    assert (tmp_path / "firm-checkpoints.db").is_file()


@pytest.mark.postgres
async def test_resume_after_crash_postgres(pg_empty_url: str) -> None:
    await _crash_and_resume(pg_empty_url)


@pytest.mark.parametrize("approved", [True, False])
async def test_human_approval_pause_then_resume(tmp_path, approved: bool) -> None:  # type: ignore[no-untyped-def]
    from graph.runner import resume_run, run_analysis

    settings = fake_settings(tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    pid = create_portfolio(engine, "desk", Decimal(10_000), require_approval=True).id
    client = FakeModelClient()
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="appr-1",
            portfolio_id=pid,
            execute=True,
            engine=engine,
            settings=settings,
            context_overrides=overrides(client),
        )
    )
    assert events[-1].status == "paused"
    waiting = [e for e in events if e.type == "decision" and e.awaiting_approval]
    assert waiting and waiting[0].action == "buy"
    with session_scope(engine) as s:
        assert s.scalars(select(Trade)).all() == []

    resumed = await collect(
        resume_run(
            "appr-1",
            approved=approved,
            note="checked",
            engine=engine,
            settings=settings,
            context_overrides=overrides(client),
        )
    )
    assert resumed[-1].status == "completed"
    assert client.attempts("technical") == 1  # resumed at execute, nothing re-analysed
    trades = [e for e in resumed if e.type == "trade"]
    with session_scope(engine) as s:
        rows = s.scalars(select(Trade)).all()
        ids = [(r.client_order_id, r.side) for r in rows]
    if approved:
        assert len(trades) == 1 and trades[0].side == "buy" and trades[0].symbol == "BTCUSDT"
        assert ids == [("run:appr-1", "buy")]
    else:
        assert trades == [] and ids == []
    # The run's result keeps the decision made before the pause (this stream never saw it).
    with session_scope(engine) as s:
        result = s.get(Run, "appr-1").result or {}  # type: ignore[union-attr]
    assert result["decision"]["action"] == "buy"
    assert result["execution"]["status"] == ("filled" if approved else "rejected_by_human")
    engine.dispose()
