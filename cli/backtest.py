"""`cryptofirm backtest SYMBOL --interval 1h --from 2023-01-01 --to 2023-06-30 --every 4`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli import validate

err = Console(stderr=True)
OPTION_NAMES = {
    "start": "--from",
    "end": "--to",
    "every": "--every",
    "max_cost_usd": "--max-cost",
    "symbol": "SYMBOL",
    "interval": "--interval",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.2f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def backtest(
    symbol: str = typer.Argument(..., help="e.g. BTCUSDT"),
    interval: str = typer.Option("1h", "--interval"),
    from_: str = typer.Option(..., "--from", help="first day traded (UTC)"),
    to: str = typer.Option(..., "--to", help="last day traded, inclusive (UTC)"),
    every: int = typer.Option(1, "--every", help="decide every N bars"),
    export: Path | None = typer.Option(None, "--export", help="write trades/equity/metrics here"),
    max_cost: float | None = typer.Option(None, "--max-cost", help="raise the USD cost cap"),
    blind: bool = typer.Option(
        False,
        "--blind",
        help="the desk sees an anonymous ticker, rebased prices and relative times "
        "(fills stay real); compare with a normal run to spot memorisation",
    ),
    clip: bool = typer.Option(
        False, "--clip", help="run on the part of the range real data covers (and say so)"
    ),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="use synthetic candles (labelled SYNTHETIC everywhere)"
    ),
) -> None:
    """Backtest the desk over a date range; prints metrics against the baselines.

    A range real data does not fully cover exits 2 naming the missing part, unless --clip."""
    from core.settings import get_settings
    from graph.backtest.data import load_backtest_data
    from graph.backtest.engine import NotEnoughHistoryError
    from graph.backtest.estimate import CostLimitError, UnknownPriceError, estimate_cost
    from graph.backtest.export import export_report
    from graph.backtest.runs import create_backtest_run, run_backtest
    from graph.backtest.schemas import BacktestParams
    from graph.events import RunEventModel
    from persistence.db import init_db

    symbol = validate.symbol(symbol)
    interval = validate.interval(interval)
    start = validate.parse_time(from_, "--from")
    end_day = validate.parse_time(to, "--to")
    end = end_day + timedelta(days=1) if len(to) <= 10 else end_day  # a date means the whole day
    validate.fresh_export_path(export)
    settings = get_settings()
    try:
        params = BacktestParams(
            symbol=symbol,
            interval=interval,
            start=start,
            end=end,
            every=every,
            starting_cash=settings.default_starting_cash,
            fee_rate=settings.fee_rate,
            slippage_bps=settings.slippage_bps,
            max_cost_usd=Decimal(str(max_cost)) if max_cost is not None else None,
            blind=blind,
            clip=clip,
            synthetic=synthetic,
        )
    except ValidationError as exc:
        validate.fail(validate.first_error(exc, OPTION_NAMES))
    db = init_db(settings.database_url)
    try:
        estimate = estimate_cost(params, settings)
        data = load_backtest_data(params, engine=db, settings=settings)
        params = data.params  # the range served: clipped or start moved only with a note
        run_id = create_backtest_run(db, params, settings=settings)
    except (CostLimitError, UnknownPriceError, NotEnoughHistoryError, ValueError) as exc:
        validate.fail(str(exc))
    err.print(
        f"{params.symbol} {params.interval} {params.start:%Y-%m-%d %H:%M} → "
        f"{params.end:%Y-%m-%d %H:%M}, every {every} "
        f"bar(s): {estimate.decision_points} decisions, est. ${estimate.usd} "
        f"(cap ${estimate.cap_usd}); data: {data.source}; run {run_id}"
        + ("; BLIND (anonymous ticker, rebased prices, relative times)" if blind else ""),
        highlight=False,
    )
    if data.source == "synthetic":
        err.print("warning: candles are SYNTHETIC, not market prices", style="yellow")
    for note in params.data_notes:
        err.print(f"note: {note}", style="yellow", highlight=False, markup=False)
    with Progress(
        TextColumn("backtest"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} bars"),
        TextColumn("equity {task.fields[equity]}"),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("bt", total=None, equity="—")

        def on_event(event: RunEventModel) -> None:
            if event.type == "progress":
                equity = f"{event.equity:,.2f}" if event.equity is not None else "—"
                bar.update(task, completed=event.done, total=event.total, equity=equity)

        report = run_backtest(db, run_id, settings=settings, data=data, on_event=on_event)

    console = Console()
    table = Table(title=f"{params.symbol} {params.interval} — {report.model} ({report.stopped})")
    table.add_column("", no_wrap=True, min_width=12)
    for column in ("return", "CAGR", "Sharpe", "Sortino", "max DD", "trades", "win rate"):
        table.add_column(column, justify="right")
    rows = [("desk", report.metrics)] + [(n, b.metrics) for n, b in report.baselines.items()]
    same = {n for n, b in report.baselines.items() if b.same_as_desk}
    for name, m in rows:
        if m is None:
            table.add_row(name, *["—"] * 7)
            continue
        label = f"{name} (= desk)" if name in same else name
        table.add_row(
            label,
            _pct(m.total_return),
            _pct(m.cagr) if m.annualised else "n/a (<1y)",
            _num(m.sharpe),
            _num(m.sortino),
            _pct(-m.max_drawdown),
            str(m.trades),
            _pct(m.win_rate),
        )
    console.print(table)
    for name, b in report.baselines.items():
        if b.note:
            console.print(f"{name}: {b.note}", highlight=False)
    s = report.decision_spread
    console.print(
        f"decisions: buy {s.buy} · sell {s.sell} · hold {s.hold}; LLM calls "
        f"{report.usage.llm_calls}, ${report.usage.cost_usd:.4f}",
        highlight=False,
    )
    for warning in report.warnings:
        console.print(f"warning: {warning}", style="yellow", highlight=False)
    console.print(
        "inputs: candles, sentiment (Fear & Greed history + dated headlines) and tokenomics "
        "as public at each decision; per-decision sources and as_of in --export decisions.csv",
        style="dim",
        highlight=False,
    )
    if export is not None:
        for path in export_report(report, export):
            console.print(f"wrote {path}", highlight=False)
