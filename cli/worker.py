"""`cryptofirm worker`: execute runs from the job queue (Postgres) until SIGINT/SIGTERM.

Any number of workers (and API replicas) share one Postgres: each takes runs from the queue,
heartbeats, and resumes the runs of workers that died. With SQLite there is no shared queue:
`cryptofirm serve` runs the one worker in-process.
"""

from __future__ import annotations

from typing import Annotated

import typer

ConcurrencyOption = Annotated[
    int | None,
    typer.Option(min=1, max=64, help="runs executed at a time (default WORKER_CONCURRENCY)"),
]


def worker(concurrency: ConcurrencyOption = None) -> None:
    """Execute analysis and backtest runs from the queue (needs a Postgres DATABASE_URL)."""
    import asyncio

    from core.logging import configure_from_settings
    from core.settings import get_settings
    from graph.checkpoint import uses_postgres

    settings = get_settings()
    if not uses_postgres(settings.database_url):
        typer.echo(
            "error: DATABASE_URL: `cryptofirm worker` needs Postgres (the shared queue); "
            "with SQLite `cryptofirm serve` runs its own worker",
            err=True,
        )
        raise typer.Exit(code=2)
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    configure_from_settings(settings)
    lower_priority(settings.worker_nice)
    from firm.worker import run_worker, worker_name

    typer.echo(f"cryptofirm worker {worker_name()}: {settings.worker_concurrency} runs at a time")
    asyncio.run(run_worker(settings))


def lower_priority(nice: int) -> None:
    """Run this process (and every thread it starts from now on) at niceness `nice` or lower
    priority: a worker sharing a host with API replicas must not slow their relays."""
    import os

    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
