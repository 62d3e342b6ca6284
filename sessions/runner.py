"""Drive one trading session: its clock, its engine of record, its lifecycle.

`run_session` is what the job (`firm.jobs.session_job`) and the CLI's foreground both record
through `firm.recorder`: an async iterator of `graph.events`. The session itself runs in a
worker thread on a private event loop (the desk's symbols are decided in parallel there), so
the caller's loop — a worker's, with its heartbeats — never blocks on it.

Lifecycle, read from the run row between bars: `paused` → the clock waits (the job stays
alive; resume continues at the next unprocessed bar); `stopping` → the current bar finishes,
the session ends `stopped`; `stopped` set while paused (by `sessions.service.stop`, which
already wrote `run_finished`) → the thread ends quietly. A replay that reaches its end ends
`completed`. Any failure ends `failed` with the reason — e.g. a real portfolio offered
synthetic prices: a real portfolio never trades synthetic prices.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from graph.events import ErrorEvent, RunEventModel, RunFinished, RunStarted, SessionState
from graph.run_row import RunRowUpdate
from persistence import sessions as store
from persistence.portfolios import get_portfolio
from sessions.clock import LiveClock, ReplayClock, Step, Wall
from sessions.desk import close_all, session_deciders
from sessions.engine import Marks, SessionEngine
from sessions.schemas import TERMINAL_SESSION
from tools.provenance import MixedSourceError, market_kind

PAUSE_POLL_S = 0.5
ENDED = frozenset({*TERMINAL_SESSION, "cancelled"})
"""Ended by someone else (stopped while paused, cancelled through the run routes)."""


class _Stopped(Exception):
    """The session was stopped while paused: `run_finished` is already written."""


def _clock(
    db: Engine, spec: Any, settings: Settings, wall: Wall | None, client_factory: Any
) -> ReplayClock | LiveClock:
    if spec.replay_from is not None:
        return ReplayClock(db, spec, settings, wall=wall)
    return LiveClock(db, spec, settings, wall=wall, client_factory=client_factory)


def _check_market(portfolio_kind: str, source: str, name: str) -> None:
    if market_kind(source) != portfolio_kind:
        raise MixedSourceError(
            f"portfolio {name!r} is {portfolio_kind} but the session's candles are {source}: "
            f"a {portfolio_kind} portfolio never trades {market_kind(source)} prices"
        )


class _Session:
    """One run of a session in its thread; `emit` hands events to the caller's loop."""

    def __init__(
        self,
        db: Engine,
        session_id: str,
        settings: Settings,
        emit: Callable[[Any], None],
        stop: threading.Event,
        wall: Wall | None,
        client_factory: Any,
        model_client: Any,
    ) -> None:
        self.db, self.id, self.settings, self.emit, self.stop = db, session_id, settings, emit, stop
        self.wall, self.client_factory, self.model_client = wall, client_factory, model_client

    def _stopping(self) -> bool:
        return store.session_status(self.db, self.id) in ("stopping", *ENDED)

    def _control(self) -> str | None:
        """Between bars: wait out a pause; the terminal status to end with, if any."""
        announced = False
        while not self.stop.is_set():
            status = store.session_status(self.db, self.id)
            if status == "stopping":
                return "stopped"
            if status in ENDED:
                raise _Stopped()
            if status != "paused":
                if announced:
                    self.emit(SessionState(run_id=self.id, status="running", doing="resumed"))
                return None
            if not announced:
                self.emit(SessionState(run_id=self.id, status="paused", doing="paused by the user"))
                announced = True
            self.stop.wait(PAUSE_POLL_S)
        return None

    async def run(self) -> None:
        from sessions.service import spec_of

        store.set_session_status(self.db, self.id, "running", only_from=("pending",))
        run = store.session_runs(self.db, self.id)[0]
        spec = spec_of(run)
        assert run.portfolio_id is not None
        portfolio = get_portfolio(self.db, run.portfolio_id)
        self.emit(
            RunStarted(
                run_id=self.id,
                kind="session",
                symbol=spec.symbols[0],
                interval=spec.interval,
                model_cheap="rules" if spec.rules else self.settings.llm_model_cheap,
                model_strong="rules" if spec.rules else self.settings.llm_model_strong,
                data_source=run.data_source,
            )
        )
        self.emit(SessionState(run_id=self.id, status="running", doing="loading candles"))
        clock = _clock(self.db, spec, self.settings, self.wall, self.client_factory)
        _check_market(portfolio.kind, clock.source, portfolio.name)
        if isinstance(clock, LiveClock):
            clock.on_wait = lambda doing: store.set_doing(self.db, self.id, doing)
        clock.interrupted = self._stopping
        paced = spec.speed is not None or spec.replay_from is None
        deciders = session_deciders(
            spec,
            session_id=self.id,
            settings=self.settings,
            db=self.db,
            limits=portfolio.risk,
            model_client=self.model_client,
            stream_tokens=paced,
        )
        checkpoint = dict(run.checkpoint or {})
        last = store.last_tick(self.db, self.id)
        cash = float(portfolio.starting_cash)
        resumed = last is not None and "marks" in checkpoint
        marks = Marks(**checkpoint["marks"]) if resumed else Marks(cash, cash)
        engine = SessionEngine(
            self.db,
            self.id,
            spec,
            portfolio.id,
            deciders,
            emit=self.emit,
            marks=marks,
            bars_processed=store.tick_count(self.db, self.id),
            detail_events=paced,
        )
        engine.closes.update(checkpoint.get("closes", {}))
        ending = "completed"
        try:
            for step in clock.steps(last.bar_ms if last else None, self.stop):
                stopped = self._control()
                if stopped is not None or self.stop.is_set():
                    ending = stopped or ""
                    break
                await engine.step(
                    step.bar_ms,
                    step.data,
                    decide=step.decide,
                    progress=_progress(step),
                    doing=_doing(step, spec.interval),
                )
            else:
                # The clock ran out (replay end, `until`) or was interrupted by a stop.
                ending = "" if self.stop.is_set() else (self._control() or "completed")
        finally:
            close_all(deciders)
        if not ending:
            return  # a shutdown: nothing terminal, recovery resumes the session
        why = "the replay ended" if ending == "completed" else "the session was stopped"
        for row in store.close_open_rows(self.db, self.id, why=f"{why} before it could fill"):
            engine.decision_event(row)
        self._finish(ending, None)

    def _finish(self, status: str, error: str | None) -> None:
        values: dict[str, Any] = {"status": status, "error": error}
        if status == "completed":
            values["progress"] = 1.0
        self.emit(SessionState(run_id=self.id, status=status, doing=None))
        self.emit(RunRowUpdate({**values, "finished_at": datetime.now(UTC)}))
        self.emit(RunFinished(run_id=self.id, status=status, reason=error))  # type: ignore[arg-type]

    def fail(self, exc: BaseException) -> None:
        reason = str(exc) or type(exc).__name__
        self.emit(ErrorEvent(run_id=self.id, message=reason))
        self._finish("failed", f"{type(exc).__name__}: {reason}")


def _progress(step: Step) -> float | None:
    return (step.index + 1) / step.total if step.total else None


def _doing(step: Step, interval: str) -> str:
    at = datetime.fromtimestamp(step.bar_ms / 1000, tz=UTC)
    return f"processed the {at:%Y-%m-%d %H:%M} {interval} bar"


async def run_session(
    engine: Engine,
    session_id: str,
    *,
    settings: Settings,
    wall: Wall | None = None,
    client_factory: Any = None,
    model_client: Any = None,
) -> AsyncIterator[RunEventModel]:
    """The session's events until it completes, stops, fails, or the caller stops listening
    (a shutdown: the session is left running for recovery). `wall` / `client_factory`
    (a Binance klines client) / `model_client` are seams for tests."""
    status = store.session_status(engine, session_id)
    if status is None:
        raise LookupError(f"session_id: no trading session {session_id}")
    if status in ENDED:
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def emit(event: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    session = _Session(engine, session_id, settings, emit, stop, wall, client_factory, model_client)

    def work() -> None:
        try:
            asyncio.run(session.run())
        except _Stopped:
            pass
        except Exception as exc:
            session.fail(exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.create_task(asyncio.to_thread(work))
    try:
        while (item := await queue.get()) is not None:
            yield item
    finally:
        stop.set()
        await asyncio.shield(task)
