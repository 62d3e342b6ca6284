"""Backtests as persisted runs: no look-ahead, progress events, cancel, budget stop, and
resume after a crash giving the same result as an uninterrupted run."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from bt_helpers import T0, RsiDecider, random_walk_frame
from sqlalchemy import Engine, select

from graph.backtest.data import prepare_data
from graph.backtest.engine import BudgetExhausted, run_engine
from graph.backtest.runs import create_backtest_run, request_cancel, run_backtest
from graph.backtest.schemas import BacktestParams
from graph.events import RunEventModel
from persistence.models import BacktestResult, Run

BARS = 600  # 200 warm-up + 400 traded


def params(n_traded: int = BARS - 200) -> BacktestParams:
    return BacktestParams(
        symbol="BTCUSDT", interval="1h", start=T0, end=T0 + timedelta(hours=n_traded)
    )


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    return random_walk_frame(BARS)


def test_decisions_do_not_depend_on_future_bars(frame) -> None:  # type: ignore[no-untyped-def]
    full = prepare_data(frame, params(), source="test")
    cut = 250  # traded bars kept in the truncated run
    short = prepare_data(frame.iloc[: 200 + cut], params(cut), source="test")
    a = run_engine(full.market, params(), RsiDecider(), full.snapshots, data_source="test")
    b = run_engine(short.market, params(cut), RsiDecider(), short.snapshots, data_source="test")
    before_cut = [d for d in a.state.decisions if d.bar < 200 + cut - 1]
    assert len(before_cut) == cut - 1 and len(b.state.decisions) == cut - 1
    assert before_cut == b.state.decisions
    assert {d.action for d in before_cut} >= {"buy", "sell"}  # the decider really trades
    assert a.state.equity[: cut - 1] == b.state.equity[: cut - 1]


def _run(db: Engine, data, decider_factory, **kw: Any) -> tuple[str, list[RunEventModel]]:  # type: ignore[no-untyped-def]
    run_id = create_backtest_run(db, params())
    events: list[RunEventModel] = []
    with contextlib.suppress(RuntimeError):
        run_backtest(
            db, run_id, decider_factory=decider_factory, on_event=events.append, data=data, **kw
        )
    return run_id, events


def _row(db: Engine, run_id: str) -> tuple[Run, BacktestResult | None]:
    from persistence.db import session_factory

    with session_factory(db)() as s:
        run = s.get(Run, run_id)
        result = s.execute(
            select(BacktestResult).where(BacktestResult.run_id == run_id)
        ).scalar_one_or_none()
    assert run is not None
    return run, result


def test_run_persists_result_progress_and_events(sqlite_engine: Engine, frame) -> None:  # type: ignore[no-untyped-def]
    data = prepare_data(frame, params(), source="test")
    run_id, events = _run(sqlite_engine, data, lambda p, r: RsiDecider())
    run, result = _row(sqlite_engine, run_id)
    assert run.status == "completed" and run.progress == 1.0 and run.data_source == "test"
    assert result is not None and not result.partial
    assert len(result.equity_curve) == BARS - 200
    assert set(result.baselines) == {"buy_and_hold", "sma_cross", "rules"}
    assert result.baselines["rules"]["same_as_desk"] is True
    assert "same run" in result.baselines["rules"]["note"]
    # One buy & hold: the curve the UI draws ends at the equity the metrics report, and the
    # desk's metrics carry no second, fee-less buy & hold figure.
    bh = result.baselines["buy_and_hold"]
    assert len(bh["equity_curve"]) == len(result.equity_curve)
    assert bh["equity_curve"][-1][1] == pytest.approx(bh["metrics"]["final_equity"])
    assert "fees and slippage" in bh["note"]
    assert "buy_and_hold_return" not in result.metrics
    spread = result.decision_spread
    assert spread["buy"] + spread["sell"] + spread["hold"] == BARS - 200 - 1
    types = [e.type for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    # progress about every 1%, never per bar
    assert 90 <= types.count("progress") <= 101


def test_resume_after_crash_equals_uninterrupted(sqlite_engine: Engine, frame) -> None:  # type: ignore[no-untyped-def]
    data = prepare_data(frame, params(), source="test")
    straight_id, _ = _run(sqlite_engine, data, lambda p, r: RsiDecider())

    crash_id, _events = _run(sqlite_engine, data, lambda p, r: RsiDecider(fail_at=300))
    crashed, _ = _row(sqlite_engine, crash_id)
    assert crashed.status == "failed" and "simulated crash" in (crashed.error or "")
    assert crashed.checkpoint is not None
    resumed_from = crashed.checkpoint["next_bar"]
    assert 200 < resumed_from <= 200 + 300  # it had got somewhere, and not to the end

    fresh = RsiDecider()
    run_backtest(sqlite_engine, crash_id, decider_factory=lambda p, r: fresh, data=data)
    assert fresh.calls < BARS - 200 - 1  # continued, did not start over
    (_a, ra), (b, rb) = _row(sqlite_engine, straight_id), _row(sqlite_engine, crash_id)
    assert b.status == "completed"
    assert ra is not None and rb is not None
    assert rb.equity_curve == ra.equity_curve
    assert rb.trades == ra.trades and rb.trades
    assert rb.decision_spread == ra.decision_spread
    assert rb.metrics == ra.metrics


def test_cancel_keeps_partial_result(sqlite_engine: Engine, frame) -> None:  # type: ignore[no-untyped-def]
    data = prepare_data(frame, params(), source="test")
    holder: dict[str, str] = {}

    def factory(p, run_id):  # type: ignore[no-untyped-def]
        holder["id"] = run_id
        return RsiDecider(on_call=lambda n: n == 100 and request_cancel(sqlite_engine, run_id))

    run_id, events = _run(sqlite_engine, data, factory)
    run, result = _row(sqlite_engine, run_id)
    assert run.status == "cancelled"
    assert result is not None and result.partial
    assert 100 < len(result.equity_curve) < BARS - 200
    assert events[-1].type == "run_finished" and events[-1].status == "cancelled"  # type: ignore[union-attr]
    assert request_cancel(sqlite_engine, run_id) is False  # already finished


class _BudgetDecider(RsiDecider):
    def decide(self, snapshot, account):  # type: ignore[no-untyped-def]
        if self.calls == 30:
            raise BudgetExhausted("run budget $0.50 reached", {"scope": "run", "limit_usd": 0.5})
        return super().decide(snapshot, account)


def test_budget_exhausted_stops_cleanly_with_partial_result(sqlite_engine: Engine, frame) -> None:  # type: ignore[no-untyped-def]
    data = prepare_data(frame, params(), source="test")
    run_id, events = _run(sqlite_engine, data, lambda p, r: _BudgetDecider())
    run, result = _row(sqlite_engine, run_id)
    assert run.status == "budget_exceeded"
    assert result is not None and result.partial
    assert len(result.equity_curve) == 31
    budget = [e for e in events if e.type == "budget"]
    assert len(budget) == 1 and budget[0].reason == "run budget $0.50 reached"  # type: ignore[union-attr]
    assert events[-1].status == "budget_exceeded"  # type: ignore[union-attr]
