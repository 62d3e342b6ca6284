"""`cryptofirm session start|list|show|pause|resume|stop|parity` — trading sessions.

`start` checks every option (exit 2, `error: --option: …`) and what is known up front (the
portfolio, the stored history a replay needs) before anything is written, then runs the
session in this process with a progress bar until it completes, is stopped (Ctrl-C stops it
after the current bar; a second Ctrl-C leaves it for a worker to resume) or reaches `--until`;
`--detach` leaves it to the workers (`cryptofirm worker`, or `cryptofirm serve` with SQLite).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cli import validate

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

OPTION_NAMES = {
    "symbols": "--symbols",
    "interval": "--interval",
    "replay_from": "--replay-from",
    "until": "--until",
    "speed": "--speed",
    "approval": "--approval",
    "portfolio_id": "--portfolio",
    "name": "--name",
    "starting_cash": "--cash",
    "every": "--every",
    "approval_timeout_bars": "--approval-timeout",
}
"""`SessionSpec` fields (and the fields `sessions.service` names) → the options that set them."""

SessionId = Annotated[str, typer.Argument(help="the session id (see `session list`)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _fail(message: str) -> NoReturn:
    validate.fail(message)


def _option(field: str) -> str:
    return OPTION_NAMES.get(field, field)


def _engine() -> Any:
    from core.settings import get_settings
    from persistence.db import init_db

    return init_db(get_settings().database_url)


def _session_id(value: str) -> str:
    from core.bounds import RUN_ID_PATTERN

    if not re.match(RUN_ID_PATTERN, value):
        _fail(f"ID: {value!r} is not a session id")
    return value


def parse_speed(value: str) -> float | None:
    """`max` → None (as fast as possible); N → N× real time (3600: one 1h bar a second)."""
    from sessions.schemas import Speed

    if value.strip().lower() == "max":
        return None
    try:
        number = float(value)
    except ValueError:
        _fail(f"--speed: {value!r} is neither max nor a number (3600 = one 1h bar a second)")
    result: float = validate.check(Speed, number, "--speed")
    return result


def parse_until(value: str) -> datetime:
    """An exclusive end (naive = UTC): the session stops after the bar opening before it."""
    from core.bounds import RangeEnd

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--until: {value!r} is not a date like 2023-07-01 (or an ISO time)")
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    result: datetime = validate.check(RangeEnd, parsed, "--until")
    return result


def build_spec(
    *,
    symbols: str,
    interval: str,
    replay_from: str | None,
    until: str | None,
    speed: str,
    portfolio_id: int | None,
    name: str | None,
    cash: float | None,
    approval: str,
    approval_timeout: int,
    every: int,
    rules: bool,
) -> Any:
    """The `SessionSpec` the options describe, or exit 2 naming the option."""
    from sessions.schemas import SessionSpec

    listed = [s for s in symbols.split(",") if s.strip()]
    if not listed:
        _fail("--symbols: give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    if approval not in ("auto", "require"):
        _fail(f"--approval: must be auto or require (got {approval!r})")
    start = validate.parse_time(replay_from, "--replay-from") if replay_from else None
    pace = parse_speed(speed)
    if pace is not None and start is None:
        _fail("--speed: only a replay (--replay-from) has a speed")
    try:
        return SessionSpec(
            symbols=[validate.symbol(s, "--symbols") for s in listed],
            interval=validate.interval(interval),
            replay_from=start,
            until=parse_until(until) if until else None,
            speed=pace,
            portfolio_id=portfolio_id,
            name=name,
            starting_cash=cash,
            approval=approval,  # type: ignore[arg-type]
            approval_timeout_bars=approval_timeout,
            every=every,
            rules=rules,
        )
    except ValidationError as exc:
        _fail(validate.first_error(exc, OPTION_NAMES))


def _portfolio_id(engine: Any, name: str | None) -> int | None:
    from persistence.portfolios import UnknownPortfolioError, get_portfolio_by_name

    if name is None:
        return None
    try:
        return get_portfolio_by_name(engine, name).id
    except UnknownPortfolioError:
        _fail(f"--portfolio: no portfolio named {name!r} (cryptofirm portfolio list)")


@app.command("start")
def start(
    symbols: Annotated[str, typer.Option("--symbols", help="watchlist, e.g. BTCUSDT,ETHUSDT")],
    interval: Annotated[str, typer.Option("--interval", help="bar interval")] = "1h",
    replay_from: Annotated[
        str | None,
        typer.Option(
            "--replay-from",
            help="replay stored history from this UTC day/time (default: a live clock)",
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="stop after the bar opening before this time")
    ] = None,
    speed: Annotated[
        str, typer.Option("--speed", help="replay pace: max, or N× real time (3600: 1h bar/s)")
    ] = "max",
    portfolio: Annotated[
        str | None, typer.Option("--portfolio", help="trade into this portfolio (by name)")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="session (and new portfolio) name")
    ] = None,
    cash: Annotated[
        float | None, typer.Option("--cash", help="starting cash of a new portfolio")
    ] = None,
    approval: Annotated[
        str, typer.Option("--approval", help="auto, or require (trades wait for approval)")
    ] = "auto",
    approval_timeout: Annotated[
        int, typer.Option("--approval-timeout", help="skip an unanswered trade after N bars")
    ] = 3,
    every: Annotated[int, typer.Option("--every", help="decide every N bars")] = 1,
    rules: Annotated[
        bool, typer.Option("--rules", help="decide with the offline rules engine (no LLM)")
    ] = False,
    detach: Annotated[
        bool, typer.Option("--detach", help="enqueue it for the workers and return")
    ] = False,
) -> None:
    """Start a trading session: the desk decides every symbol at each bar close and trades
    into a paper portfolio."""
    from core.settings import get_settings
    from sessions.service import create_session
    from tools.errors import FieldValueError

    settings = get_settings()
    if not rules and not settings.offline_models:
        from cli.analyze import model_settings

        settings = model_settings()  # a model setup that cannot work: exit 2 naming it
    engine = _engine()
    spec = build_spec(
        symbols=symbols,
        interval=interval,
        replay_from=replay_from,
        until=until,
        speed=speed,
        portfolio_id=_portfolio_id(engine, portfolio),
        name=name,
        cash=cash,
        approval=approval,
        approval_timeout=approval_timeout,
        every=every,
        rules=rules,
    )
    try:
        session_id = create_session(engine, spec, settings=settings)
    except FieldValueError as exc:
        _fail(f"{_option(exc.field)}: {exc.message}")
    from cli.session_run import describe_start, enqueue, run_foreground

    err.print(describe_start(engine, session_id), soft_wrap=True)
    if detach:
        err.print(enqueue(settings, engine, session_id))
        typer.echo(session_id)
        return
    status = run_foreground(settings, engine, session_id, err)
    typer.echo(session_id)
    if status not in ("completed", "stopped"):
        raise typer.Exit(code=1)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every session, newest first."""
    from sessions.service import list_sessions

    views = list_sessions(_engine())
    if as_json:
        typer.echo("[" + ",".join(v.model_dump_json() for v in views) + "]")
        return
    table = Table(title="Trading sessions")
    for column in ("id", "name", "status", "clock", "symbols", "bars", "trades", "equity"):
        table.add_column(column, justify="right" if column in ("bars", "trades") else "left")
    for v in views:
        table.add_row(
            v.id,
            v.name,
            v.status,
            v.clock,
            ",".join(v.symbols),
            str(v.bars_processed),
            str(v.trades),
            "—" if v.equity is None else f"{v.equity:,.2f}",
        )
    console.print(table)


def _view(session_id: str) -> Any:
    from sessions.service import get_session

    try:
        return get_session(_engine(), _session_id(session_id))
    except LookupError:
        _fail(f"ID: no trading session {session_id}")


@app.command("show")
def show(session_id: SessionId, as_json: JsonOption = False) -> None:
    """Status, bars processed, trades, equity and the per-limit maxima reached."""
    view = _view(session_id)
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
        return
    from cli.session_run import render_view

    render_view(view, console)


def _steer(session_id: str, action: str) -> None:
    from sessions import service

    engine = _engine()
    session_id = _session_id(session_id)
    try:
        view = getattr(service, action)(engine, session_id)
    except LookupError:
        _fail(f"ID: no trading session {session_id}")
    except service.SessionStateError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    if action == "resume":
        from cli.session_run import ensure_worker

        note = ensure_worker(engine, session_id)
        if note:
            err.print(note)
    typer.echo(f"session {view.id}: {view.status}")


@app.command("pause")
def pause(session_id: SessionId) -> None:
    """Stop the clock after the current bar (resume continues at the next bar)."""
    _steer(session_id, "pause")


@app.command("resume")
def resume(session_id: SessionId) -> None:
    """Continue a paused session at its next unprocessed bar."""
    _steer(session_id, "resume")


@app.command("stop")
def stop(session_id: SessionId) -> None:
    """End the session after its current bar (at once when pending or paused)."""
    _steer(session_id, "stop")


@app.command("parity")
def parity(session_id: SessionId, as_json: JsonOption = False) -> None:
    """Compare the session with the backtest of the same symbols, bars, costs and model;
    exit 1 when they differ (each difference named)."""
    from sessions.parity import parity_report
    from tools.errors import FieldValueError

    session_id = _session_id(session_id)
    try:
        report = parity_report(_engine(), session_id)
    except LookupError:
        _fail(f"ID: no trading session {session_id}")
    except FieldValueError as exc:  # a live session, or one with fewer than 2 bars
        _fail(f"ID: {exc.message}")
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        from cli.session_run import render_parity

        render_parity(report, console)
        for note in report.notes:
            console.print(f"note: {note}")
    if not report.identical:
        raise typer.Exit(code=1)
