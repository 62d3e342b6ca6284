"""`cryptofirm data …`: fetch from Binance, import files, list the store, report gaps.

Every command migrates the database first. Bad input ends with one `error: …` line and exit
code 2 before anything is written; an unreachable Binance ends with exit code 1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy import Engine

    from tools.candle_frame import Gap
    from tools.candle_store import StoreReport

# pandas, SQLAlchemy and python-binance are imported inside the commands: `cryptofirm --help`
# and every other sub-command must not pay seconds for them.

app = typer.Typer(no_args_is_help=True)
console = Console()

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1
TIME_FORMAT = "%Y-%m-%d %H:%M"


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _engine() -> Engine:
    from core.settings import get_settings
    from persistence.db import init_db

    return init_db(get_settings().database_url)


def _parse_date(value: str, option: str) -> datetime:
    from cli.validate import parse_time

    return parse_time(value, option)


def _checked(symbol: str, interval: str) -> tuple[str, str]:
    from tools.importers import normalise_symbol
    from tools.intervals import interval_ms

    try:
        interval_ms(interval)
        return normalise_symbol(symbol), interval
    except ValueError as exc:
        _fail(str(exc))


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print_gaps(gaps: list[Gap], symbol: str, interval: str) -> None:
    missing = sum(g.missing for g in gaps)
    console.print(f"{symbol} {interval}: {len(gaps)} gaps, {missing} missing candles")
    if not gaps:
        return
    from rich.table import Table

    table = Table("first missing (UTC)", "last missing (UTC)", "missing")
    for gap in gaps:
        table.add_row(
            gap.start.strftime("%Y-%m-%d %H:%M"),
            gap.end.strftime("%Y-%m-%d %H:%M"),
            str(gap.missing),
        )
    console.print(table)


def _print_report(report: StoreReport, what: str) -> None:
    console.print(
        f"{what}: {report.symbol} {report.interval}: {report.rows_in} rows read, "
        f"{report.rows_new} new, {report.rows_existing} already stored, "
        f"{report.rejected} rejected, {report.duplicates} duplicates, "
        f"{report.forming_dropped} still-forming dropped"
    )
    for example in report.rejected_examples:
        console.print(f"  rejected {example.describe()}", highlight=False, markup=False)
    missing = sum(g.missing for g in report.gaps)
    console.print(f"  {len(report.gaps)} gaps ({missing} missing candles) in this data")
    if report.conflicts:
        kept = report.conflicts - report.replaced
        console.print(
            f"  {report.conflicts} stored candles differ from this data: "
            f"{report.replaced} replaced, {kept} kept"
            + (" (--replace overwrites them)" if kept and what == "import" else "")
        )
        for conflict in report.conflict_examples:
            when = datetime.fromtimestamp(conflict.open_time / 1000, tz=UTC).strftime(TIME_FORMAT)
            console.print(
                f"    {when}: stored ({conflict.stored_source}) {conflict.stored} "
                f"vs {conflict.incoming}"
            )


@app.command("fetch")
def fetch(
    symbol: str,
    interval: Annotated[str, typer.Option("--interval", "-i", help="Binance interval")] = "1h",
    start: Annotated[str, typer.Option("--from", help="first open time, UTC date")] = "",
    end: Annotated[str, typer.Option("--to", help="end (exclusive), UTC; default now")] = "",
) -> None:
    """Fetch klines from Binance into the store (idempotent: re-fetching adds nothing; a
    stored candle Binance now reports differently — fetched while forming — is corrected)."""
    from persistence.candles import store_candles
    from tools.binance import BinanceError, BinanceKlinesClient
    from tools.candle_frame import datetime_to_ms, now_ms
    from tools.intervals import interval_ms

    symbol, interval = _checked(symbol, interval)
    if not start:
        _fail("--from is required (e.g. --from 2024-01-01)")
    start_ms = datetime_to_ms(_parse_date(start, "--from"))
    end_ms = datetime_to_ms(_parse_date(end, "--to")) if end else now_ms()
    if start_ms >= end_ms:
        _fail(f"--from {start} is not before --to {end or 'now'}")
    engine = _engine()
    client = BinanceKlinesClient.from_settings()
    expected = max(1, (end_ms - start_ms) // interval_ms(interval))
    try:
        with _progress() as progress:
            task = progress.add_task(f"fetch {symbol} {interval}", total=expected)
            frame = client.fetch_klines(
                symbol,
                interval,
                start_ms,
                end_ms,
                on_page=lambda n, _last: progress.advance(task, n),
            )
    except BinanceError as exc:
        _fail(str(exc), EXIT_UNAVAILABLE)
    finally:
        client.close()
    try:
        report = store_candles(
            engine, symbol, interval, frame, source="binance", overwrite="same_source"
        )
    except ValueError as exc:  # e.g. a synthetic series stored under this key
        _fail(str(exc))
    _print_report(report, "fetch")


@app.command("import")
def import_(
    path: Path,
    symbol: Annotated[str | None, typer.Option(help="override the symbol from the name")] = None,
    interval: Annotated[str | None, typer.Option(help="override the interval")] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="import the good rows, report the bad ones")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="overwrite stored candles whose values differ")
    ] = False,
) -> None:
    """Import a candle file (Binance kline CSV/zip, freqtrade feather/json, CSV with header).

    All or nothing: a bad row (named by line, field and value) imports nothing, exit 2."""
    from persistence.candles import SqlCandleStore
    from tools.importers import ImportFormatError, read_candle_file, store_file

    engine = _engine()
    try:
        candles = read_candle_file(path, symbol=symbol, interval=interval)
        with _progress() as progress:
            task = progress.add_task(f"import {path.name}", total=None)
            report = store_file(SqlCandleStore(engine), candles, skip_bad=skip_bad, replace=replace)
            progress.update(task, total=report.rows_in, completed=report.rows_in)
    except (FileNotFoundError, ImportFormatError, ValueError) as exc:
        _fail(str(exc))
    _print_report(report, "import")


@app.command("list")
def list_() -> None:
    """Every stored (symbol, interval) with its row count, range and sources."""
    from rich.table import Table

    from persistence.candles import list_series

    series = list_series(_engine())
    if not series:
        console.print("the candle store is empty")
        return
    table = Table("symbol", "interval", "rows", "first (UTC)", "last (UTC)", "sources")
    for item in series:
        table.add_row(
            item.symbol,
            item.interval,
            str(item.rows),
            item.first.strftime(TIME_FORMAT),
            item.last.strftime(TIME_FORMAT),
            ",".join(item.sources),
        )
    console.print(table)


@app.command("gaps")
def gaps(symbol: str, interval: str) -> None:
    """Report missing candles between the first and last stored bar (never filled)."""
    from persistence.candles import store_gaps

    symbol, interval = _checked(symbol, interval)
    _print_gaps(store_gaps(_engine(), symbol, interval), symbol, interval)
