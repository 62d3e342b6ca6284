"""Backtests as runs: a `runs` row (kind=backtest) with parameters, status, progress, a
resumable checkpoint and, at the end, a `backtest_results` row.

- progress is written about every 1% of bars (never per bar), the engine checkpoint about every
  2% — both single-row UPDATEs, so the per-decision path never touches the database;
- cancel: `request_cancel` sets status `cancelled`; the engine sees it between decisions (the
  status is polled at most once a second) and stops, keeping the partial result;
- crash: the run keeps its last checkpoint; `run_backtest(run_id)` again continues from there
  and ends with the same result as an uninterrupted run (decisions lost since the checkpoint
  are recomputed — from the LLM answer cache, so at no model cost).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from core.settings import Settings, get_settings
from graph.backtest.data import BacktestData, load_backtest_data
from graph.backtest.engine import Decider, EngineHooks, run_engine
from graph.backtest.estimate import check_cost, estimate_cost
from graph.backtest.report import BacktestReport, BaselineResult, build_report, market_baselines
from graph.backtest.schemas import BacktestParams, EngineState, StopReason
from graph.costs import memorisation_note
from graph.events import (
    BudgetEvent,
    ErrorEvent,
    Progress,
    RunEventModel,
    RunFinished,
    RunStarted,
)
from graph.run_row import RunRowUpdate
from persistence.db import session_factory
from persistence.models import BacktestResult, Run

EventSink = Callable[[RunEventModel], None]
DeciderFactory = Callable[[BacktestParams, str], Decider]
"""(params, run_id) → decider. Default: the desk graph (`graph.backtest.desk`)."""

RESUMABLE = frozenset({"pending", "running", "failed"})
CANCEL_POLL_S = 1.0


class RunNotFoundError(LookupError):
    pass


class RunStateError(ValueError):
    pass


def model_label(settings: Settings) -> str:
    if settings.offline_models:
        return "rules"
    return f"{settings.llm_model_cheap}/{settings.llm_model_strong}"


def create_backtest_run(
    db: Engine, params: BacktestParams, *, settings: Settings | None = None
) -> str:
    """Validate the cost estimate, then persist a pending run. Returns the run id."""
    settings = settings or get_settings()
    check_cost(estimate_cost(params, settings))
    run_id = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(
            insert(Run).values(
                id=run_id,
                kind="backtest",
                status="pending",
                symbol=params.symbol,
                interval=params.interval,
                params=params.model_dump(mode="json"),
                progress=0.0,
                model=model_label(settings),
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
    return run_id


def request_cancel(db: Engine, run_id: str) -> bool:
    """Mark a pending/running backtest cancelled; False when it had already finished."""
    with db.begin() as conn:
        result = conn.execute(
            update(Run)
            .where(Run.id == run_id, Run.status.in_(("pending", "running")))
            .values(status="cancelled", updated_at=datetime.now(UTC))
        )
    return bool(result.rowcount)


def _set(db: Engine, run_id: str, **values: Any) -> None:
    with db.begin() as conn:
        conn.execute(
            update(Run).where(Run.id == run_id).values(updated_at=datetime.now(UTC), **values)
        )


def _load_run(db: Engine, run_id: str) -> Run:
    with session_factory(db)() as session:
        run = session.get(Run, run_id)
    if run is None or run.kind != "backtest":
        raise RunNotFoundError(f"run_id: no backtest run {run_id}")
    return run


def _budget_event(run_id: str, details: dict[str, Any]) -> BudgetEvent:
    return BudgetEvent(
        run_id=run_id,
        scope=details.get("scope", "run"),
        spent_usd=float(details.get("spent_usd", 0.0)),
        limit_usd=float(details.get("limit_usd", 0.0)),
        spent_tokens=int(details.get("spent_tokens", 0)),
        limit_tokens=int(details.get("limit_tokens", 0)),
        exceeded=True,
        reason=details.get("reason"),
    )


class _StatusPoller:
    """Cheap `should_stop`: asks the database at most once per CANCEL_POLL_S, and at every
    progress tick (`poll_soon`) so fast runs notice a cancel within ~1% of their bars."""

    def __init__(self, db: Engine, run_id: str, cancel: threading.Event | None) -> None:
        self.db, self.run_id, self.cancel = db, run_id, cancel
        self._next = 0.0

    def poll_soon(self) -> None:
        self._next = 0.0

    def __call__(self) -> StopReason | None:
        if self.cancel is not None and self.cancel.is_set():
            return "cancelled"
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + CANCEL_POLL_S
        with self.db.connect() as conn:
            status = conn.execute(select(Run.status).where(Run.id == self.run_id)).scalar_one()
        return "cancelled" if status == "cancelled" else None


def _save_result(db: Engine, run_id: str, report: BacktestReport) -> None:
    metrics = report.metrics.model_dump(mode="json") if report.metrics else {}
    row = {
        "run_id": run_id,
        "partial": report.partial,
        "metrics": metrics,
        "baselines": {k: v.model_dump(mode="json") for k, v in report.baselines.items()},
        "decision_spread": report.decision_spread.model_dump(),
        "equity_curve": [[t.isoformat(), v] for t, v in report.equity_curve],
        "trades": [t.model_dump(mode="json") for t in report.trades],
        "warnings": report.warnings,
        "created_at": datetime.now(UTC),
    }
    with db.begin() as conn:
        conn.execute(delete(BacktestResult).where(BacktestResult.run_id == run_id))
        conn.execute(insert(BacktestResult).values(**row))


def default_decider_factory(db: Engine, settings: Settings, **overrides: Any) -> DeciderFactory:
    def factory(params: BacktestParams, run_id: str) -> Decider:
        from graph.backtest.desk import GraphDecider

        return GraphDecider.for_backtest(
            params, run_id=run_id, settings=settings, db=db, **overrides
        )

    return factory


def rules_baseline(
    data: BacktestData,
    params: BacktestParams,
    settings: Settings,
    main: BacktestReport,
    *,
    inputs_db: Engine | None = None,
) -> BaselineResult:
    """The same backtest decided by the rules engine; reused when the main model IS rules."""
    if settings.offline_models:
        return BaselineResult(
            name="rules",
            metrics=main.metrics,
            same_as_desk=True,
            note="the same run as the desk: the desk itself ran on the rules engine",
        )
    from graph.backtest.desk import GraphDecider
    from graph.backtest.report import metrics_for

    rules = GraphDecider.for_backtest(
        params,
        run_id=f"rules-baseline-{uuid.uuid4()}",
        settings=settings,
        db=None,
        rules=True,
        inputs_db=inputs_db,  # the same dated headlines as the desk, nothing logged
    )
    outcome = run_engine(data.market, params, rules, data.snapshots, data_source=data.source)
    return BaselineResult(name="rules", metrics=metrics_for(outcome, data, params.interval))


def run_backtest(
    db: Engine,
    run_id: str,
    *,
    settings: Settings | None = None,
    decider_factory: DeciderFactory | None = None,
    on_event: EventSink | None = None,
    cancel: threading.Event | None = None,
    data: BacktestData | None = None,
    finish_run: bool = True,
) -> BacktestReport:
    """Run (or resume from its checkpoint) a persisted backtest to its end; returns the report.

    Any exception marks the run `failed` with the error and keeps its checkpoint, then
    propagates; calling this again resumes. With `finish_run=False` (the job queue) the final
    row values are emitted as a `RunRowUpdate` just before `run_finished` instead of being
    written here, so the recorder commits them with the terminal event."""
    settings = settings or get_settings()
    run = _load_run(db, run_id)
    if run.status not in RESUMABLE:
        raise RunStateError(f"run_id: backtest {run_id} is {run.status}, not resumable")
    params = BacktestParams.model_validate(run.params)
    emit: EventSink = on_event or (lambda _event: None)
    factory = decider_factory or default_decider_factory(db, settings)
    state = EngineState.model_validate(run.checkpoint) if run.checkpoint else None
    _set(db, run_id, status="running", started_at=run.started_at or datetime.now(UTC), error=None)
    try:
        data = data or load_backtest_data(params, engine=db, settings=settings)
        params = data.params  # the range served (clipped / start moved past warm-up, noted)
        _set(db, run_id, data_source=data.source)
        emit(
            RunStarted(
                run_id=run_id,
                kind="backtest",
                symbol=params.symbol,
                interval=params.interval,
                model_cheap=settings.llm_model_cheap if not settings.offline_models else "rules",
                model_strong=settings.llm_model_strong if not settings.offline_models else "rules",
                data_source=data.source,
            )
        )

        poller = _StatusPoller(db, run_id, cancel)

        def on_progress(done: int, total: int, equity: float) -> None:
            _set(db, run_id, progress=done / total)
            poller.poll_soon()
            emit(Progress(run_id=run_id, done=done, total=total, equity=equity))

        def on_checkpoint(snapshot: EngineState) -> None:
            _set(db, run_id, checkpoint=snapshot.model_dump(mode="json"))

        hooks = EngineHooks(
            on_progress=on_progress,
            on_checkpoint=on_checkpoint,
            should_stop=poller,
        )
        decider = factory(params, run_id)
        try:
            outcome = run_engine(
                data.market,
                params,
                decider,
                data.snapshots,
                data_source=data.source,
                state=state,
                hooks=hooks,
            )
        finally:
            close = getattr(decider, "close", None)
            if close is not None:
                close()
        report = build_report(
            outcome,
            data,
            params,
            model=model_label(settings),
            baselines=market_baselines(outcome, data, params),
        )
        report.baselines["rules"] = rules_baseline(data, params, settings, report, inputs_db=db)
        if (note := memorisation_note(settings, params.start, params.end)) is not None:
            report.memorisation_note = note
            report.warnings.insert(0, note)
        _save_result(db, run_id, report)
        summary = {
            "partial": report.partial,
            "stopped": report.stopped,
            "metrics": report.metrics.model_dump(mode="json") if report.metrics else None,
            "decision_spread": report.decision_spread.model_dump(),
            "warnings": report.warnings,
            "memorisation_note": report.memorisation_note,
            "blind": report.blind,
        }
        final = {
            "status": report.stopped,
            "result": summary,
            "checkpoint": outcome.state.model_dump(mode="json"),
            "progress": (outcome.state.next_bar - outcome.first_bar)
            / (outcome.last_bar - outcome.first_bar + 1),
            "finished_at": datetime.now(UTC),
        }
        if outcome.budget is not None:
            emit(_budget_event(run_id, outcome.budget))
        _finish(db, run_id, final, emit, finish_run)
        emit(
            RunFinished(
                run_id=run_id,
                status=report.stopped,
                cost_usd=report.usage.cost_usd,
                prompt_tokens=report.usage.prompt_tokens,
                completion_tokens=report.usage.completion_tokens,
            )
        )
        return report
    except Exception as exc:
        emit(ErrorEvent(run_id=run_id, message=str(exc)))
        failed = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        _finish(db, run_id, failed, emit, finish_run)
        emit(RunFinished(run_id=run_id, status="failed"))
        raise


def _finish(
    db: Engine, run_id: str, values: dict[str, Any], emit: EventSink, finish_run: bool
) -> None:
    """The run's final row: written here, or handed to the recorder (see `run_backtest`)."""
    if finish_run:
        _set(db, run_id, **values)
    else:
        emit(RunRowUpdate({**values, "updated_at": datetime.now(UTC)}))  # type: ignore[arg-type]


async def stream_backtest(
    db: Engine,
    run_id: str,
    *,
    settings: Settings | None = None,
    decider_factory: DeciderFactory | None = None,
    cancel: threading.Event | None = None,
    finish_run: bool = True,
) -> AsyncIterator[RunEventModel]:
    """`run_backtest` in a worker thread, its events yielded as they happen (for SSE)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[RunEventModel | BaseException | None] = asyncio.Queue()

    def sink(event: RunEventModel) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    def work() -> None:
        try:
            run_backtest(
                db,
                run_id,
                settings=settings,
                decider_factory=decider_factory,
                on_event=sink,
                cancel=cancel,
                finish_run=finish_run,
            )
        except BaseException as exc:  # the events already say it failed; re-raise in the caller
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.create_task(asyncio.to_thread(work))
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        await task
