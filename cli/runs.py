"""`cryptofirm runs approve|reject RUN_ID` — answer a run paused for human approval."""

from __future__ import annotations

import asyncio
import re

import typer
from rich.console import Console

from cli import validate
from cli.analyze import fail, stream_to_console

app = typer.Typer(no_args_is_help=True)


def _resume(run_id: str, approved: bool, note: str) -> None:
    from core.bounds import RUN_ID_PATTERN, Text
    from core.settings import get_settings
    from graph.runner import resume_run
    from persistence.db import init_db, session_scope
    from persistence.models import Run

    if not re.match(RUN_ID_PATTERN, run_id):
        raise fail(f"RUN_ID: {run_id!r} is not a run id")
    note = validate.check(Text, note, "--note")
    settings = get_settings()
    engine = init_db(settings.database_url)
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise fail(f"RUN_ID: no run {run_id!r}")
        if run.status != "paused":
            raise fail(f"RUN_ID: run {run_id} is {run.status}, not paused")
    events = resume_run(run_id, approved=approved, note=note, engine=engine, settings=settings)
    status = asyncio.run(stream_to_console(events, Console(highlight=False)))
    if status != "completed":
        raise typer.Exit(code=1)


@app.command("approve")
def approve(run_id: str, note: str = typer.Option("", help="why")) -> None:
    """Approve the paused run's order and execute it."""
    _resume(run_id, True, note)


@app.command("reject")
def reject(run_id: str, note: str = typer.Option("", help="why")) -> None:
    """Reject the paused run's order; nothing is traded."""
    _resume(run_id, False, note)
