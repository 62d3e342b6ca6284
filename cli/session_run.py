"""What `cryptofirm session` does beyond parsing: run a session in this process through the
run recorder (as a worker's job would) with a progress bar, hand one to the workers, and print
sessions and parity reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, select

from core.settings import Settings

KIND = "session"


def describe_start(engine: Engine, session_id: str) -> str:
    """One line: what was started, on which data, into which portfolio."""
    from persistence.portfolios import get_portfolio
    from sessions.service import get_session

    view = get_session(engine, session_id)
    portfolio = get_portfolio(engine, view.portfolio_id)
    if view.replay_from is not None:
        pace = "max speed" if view.speed is None else f"{view.speed:g}× real time"
        clock = f"replay from {view.replay_from:%Y-%m-%d %H:%M} UTC at {pace}"
        if view.until is not None:
            clock += f" until {view.until:%Y-%m-%d %H:%M}"
    else:
        clock = "live clock (each bar close fetches the new candle)"
    return (
        f"session {view.id} ({view.name}): {','.join(view.symbols)} {view.interval}, {clock}; "
        f"portfolio {portfolio.name!r} (id {portfolio.id}, {portfolio.kind}); "
        f"approval {view.approval}; data {view.data_source or '—'}"
    )


def replay_bars(engine: Engine, view: Any) -> int | None:
    """Bars a replay will process (to `until` or the end of the stored history), or None."""
    from persistence.candles import list_series
    from tools.intervals import interval_ms

    if view.replay_from is None:
        return None
    step = timedelta(milliseconds=interval_ms(view.interval))
    lasts = [
        s.last
        for s in list_series(engine)
        if s.symbol in view.symbols and s.interval == view.interval
    ]
    if len(lasts) < len(view.symbols):
        return None
    end: datetime = min(lasts) + step
    if view.until is not None:
        end = min(end, view.until)
    return max(0, int((end - view.replay_from) / step))


def _worker_name() -> str:
    return f"cli:{socket.gethostname()}:{os.getpid()}"


async def _fence(settings: Settings, session_id: str) -> Any:
    """Postgres: hold the run's advisory lock as a worker's job would, so a worker's recovery
    job for this session stands aside while this process runs it. None with SQLite."""
    from firm.jobs import RunFence
    from graph.checkpoint import postgres_conninfo, uses_postgres

    if not uses_postgres(settings.database_url):
        return None
    fence = RunFence(postgres_conninfo(settings.database_url))
    if not await fence.acquire(session_id):
        await fence.close()
        raise RuntimeError(f"session {session_id} is already being run by a worker")
    return fence


async def _foreground(settings: Settings, engine: Engine, session_id: str, out: Console) -> str:
    from firm.recorder import RunRecorder
    from firm.runs import claim_attempt, run_status
    from sessions.service import get_session, run_session, stop

    fence = await _fence(settings, session_id)
    try:
        claim = await asyncio.to_thread(
            claim_attempt,
            engine,
            session_id,
            None,
            answer=False,
            recovered=False,
            worker=_worker_name(),
        )
        if claim is None:
            return str(await asyncio.to_thread(run_status, engine, session_id))
        total = replay_bars(engine, get_session(engine, session_id))
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        interrupts = 0

        def on_interrupt() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                out.print("stopping after the current bar (Ctrl-C again: leave it to a worker)")
                loop.run_in_executor(None, _quiet_stop, stop, engine, session_id)
            elif current is not None:
                current.cancel()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        columns = (
            TextColumn("session"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} bars" if total else "{task.completed} bars"),
            TextColumn("{task.fields[at]}  equity {task.fields[equity]}"),
            TextColumn("trades {task.fields[trades]}  {task.fields[doing]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=out) as bar:
            task = bar.add_task("session", total=total, at="", equity="—", trades=0, doing="")
            source = _tapped(run_session(engine, session_id, settings=settings), bar, task, out)
            recorder = RunRecorder(engine, session_id)
            try:
                status = await recorder.record(source, on_cancel=lambda: False)
            except asyncio.CancelledError:
                status = None
            finally:
                loop.remove_signal_handler(signal.SIGINT)
        if status is None:
            out.print(f"left session {session_id} running: a worker resumes it")
            return "interrupted"
        return status
    finally:
        if fence is not None:
            await fence.release(session_id)
            await fence.close()


def _quiet_stop(stop: Any, engine: Engine, session_id: str) -> None:
    with contextlib.suppress(ValueError):  # already stopping or finished
        stop(engine, session_id)


async def _tapped(
    source: AsyncIterator[Any], bar: Progress, task: Any, out: Console
) -> AsyncIterator[Any]:
    """The session's events, unchanged, updating the progress bar on the way."""
    trades = 0
    async for event in source:
        kind = getattr(event, "type", "")
        if kind == "session_tick":
            bar.update(
                task,
                completed=event.bars_processed,
                at=f"{event.bar_time:%Y-%m-%d %H:%M}",
                equity=f"{event.equity:,.2f} (dd {event.drawdown_pct:.1f}%)",
            )
        elif kind == "trade":
            trades += 1
            bar.update(task, trades=trades)
            out.print(
                f"FILLED {event.side} {event.quantity} {event.symbol} @ {event.price} "
                f"(trade {event.trade_id})"
            )
        elif kind == "session_decision" and event.status == "awaiting_approval":
            out.print(
                f"AWAITING APPROVAL {event.action} {event.symbol} {event.size_pct:.1f}% at "
                f"{event.bar_time:%Y-%m-%d %H:%M} (answer in the UI or POST .../approvals)"
            )
        elif kind == "session_state":
            bar.update(task, doing=escape(event.doing or event.status))
        elif kind == "error":
            out.print(f"{event.severity}: {escape(event.message)}")
        elif kind == "run_finished" and event.reason:
            out.print(f"{event.status}: {escape(event.reason)}")
        yield event


def run_foreground(settings: Settings, engine: Engine, session_id: str, out: Console) -> str:
    """Run the session here until it completes, is stopped or fails; its final status."""
    try:
        return asyncio.run(_foreground(settings, engine, session_id, out))
    except RuntimeError as exc:
        out.print(f"error: {exc}")
        return "failed"


async def _enqueue(settings: Settings, engine: Engine, session_id: str) -> int:
    from firm.hub import RunHub
    from firm.jobs import open_queue

    async with open_queue(settings, engine, RunHub()) as queue:
        return await queue.enqueue(session_id, KIND)


def enqueue(settings: Settings, engine: Engine, session_id: str) -> str:
    """Hand the session to the workers; says who will run it."""
    from graph.checkpoint import uses_postgres

    if not uses_postgres(settings.database_url):
        return (
            "queued (pending): with SQLite the worker inside `cryptofirm serve` runs it "
            "(pending sessions are picked up at its start and by its sweep)"
        )
    job_id = asyncio.run(_enqueue(settings, engine, session_id))
    return f"queued as job {job_id}: a `cryptofirm worker` runs it"


async def _job_alive(settings: Settings, engine: Engine, session_id: str) -> bool:
    from firm.hub import RunHub
    from firm.jobs import open_queue
    from persistence.models import Run

    with engine.connect() as conn:
        job_id = conn.execute(select(Run.job_id).where(Run.id == session_id)).scalar()
    async with open_queue(settings, engine, RunHub()) as queue:
        return await queue.job_status(job_id) in ("todo", "doing")


def ensure_worker(engine: Engine, session_id: str) -> str | None:
    """After a resume: on Postgres enqueue a job when none holds the session any more."""
    from core.settings import get_settings
    from graph.checkpoint import uses_postgres

    settings = get_settings()
    if not uses_postgres(settings.database_url):
        return None
    if asyncio.run(_job_alive(settings, engine, session_id)):
        return None
    job_id = asyncio.run(_enqueue(settings, engine, session_id))
    return f"no job held it: queued as job {job_id}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def render_view(view: Any, console: Console) -> None:
    """A session as `session show` prints it."""
    console.print(
        f"[bold]{escape(view.name)}[/bold] {view.id}  [bold]{view.status}[/bold]  {view.clock} "
        f"{','.join(view.symbols)} {view.interval}  portfolio {view.portfolio_id}  "
        f"approval {view.approval}"
    )
    if view.doing:
        console.print(f"doing: {escape(view.doing)}")
    if view.error:
        console.print(f"[red]error:[/red] {escape(view.error)}")
    now = f"{view.now:%Y-%m-%d %H:%M}" if view.now else "—"
    equity = "—" if view.equity is None else f"{view.equity:,.2f}"
    start = "—" if view.starting_cash is None else f"{view.starting_cash:,.2f}"
    console.print(
        f"clock {now}  bars {view.bars_processed}  decisions {view.decisions}  "
        f"trades {view.trades}  equity {equity} (start {start})  "
        f"drawdown {_pct(view.drawdown_pct)}"
    )
    limits = Table(title="Limits: the most each reached")
    for column in ("limit", "setting", "reached"):
        limits.add_column(column, justify="left" if column == "limit" else "right")
    m, lim = view.maxima, view.limits
    for label, key, reached in (
        ("largest position", "max_position_pct", m.max_position_pct),
        ("total exposure", "max_total_exposure_pct", m.max_total_exposure_pct),
        ("cash (lowest)", "min_cash_reserve_pct", m.min_cash_pct),
        ("drawdown", "max_drawdown_pct", m.max_drawdown_pct),
        ("daily loss", "max_daily_loss_pct", m.max_daily_loss_pct),
    ):
        limits.add_row(label, _pct(lim.get(key)), _pct(reached))
    console.print(limits)
    symbols = Table(title="Symbols")
    for column in ("symbol", "last bar", "close", "action", "qty", "stop", "target"):
        symbols.add_column(column)
    for s in view.symbols_state:
        symbols.add_row(
            s.symbol,
            f"{s.last_bar:%Y-%m-%d %H:%M}" if s.last_bar else "—",
            "—" if s.last_close is None else f"{s.last_close:,.2f}",
            s.last_action or "—",
            f"{s.position_qty:g}",
            "—" if s.stop_loss is None else f"{s.stop_loss:,.2f}",
            "—" if s.take_profit is None else f"{s.take_profit:,.2f}",
        )
    console.print(symbols)
    for p in view.pending_approvals:
        console.print(
            f"[yellow]awaiting approval[/yellow] {p.action} {p.symbol} {p.size_pct:.1f}% at "
            f"{p.bar_time:%Y-%m-%d %H:%M} (skipped after {p.expires_after_bar:%Y-%m-%d %H:%M})"
        )


def render_parity(report: Any, console: Console) -> None:
    verdict = "[green]IDENTICAL[/green]" if report.identical else "[red]DIFFERENT[/red]"
    console.print(
        f"session {report.session_id} vs backtest over {report.bars} bars: {verdict}  "
        f"decisions {report.decisions_compared}, fills {report.fills_compared}, equity points "
        f"{report.equity_points_compared}; final equity {report.session_final_equity:,.2f} "
        f"vs {report.backtest_final_equity:,.2f}"
    )
    if report.differences:
        table = Table(title="Differences")
        for column in ("what", "symbol", "at", "session", "backtest"):
            table.add_column(column)
        for d in report.differences:
            table.add_row(d.what, d.symbol or "—", f"{d.at:%Y-%m-%d %H:%M}", d.session, d.backtest)
        console.print(table)
