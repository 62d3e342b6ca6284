"""`cryptofirm analyze SYMBOL` — run the desk once and stream every agent's reasoning live.

Tokens arrive interleaved from the three analysts; each agent's text is buffered and printed
sentence by sentence behind a coloured `[agent]` label, so parallel reasoning stays readable.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from cli import validate
from graph.events import (
    AgentOutput,
    BudgetEvent,
    Decision,
    ErrorEvent,
    RunFinished,
    RunStarted,
    Token,
    TradeEvent,
)

STYLE = {
    "technical": "cyan",
    "sentiment": "magenta",
    "tokenomics": "yellow",
    "researcher": "blue",
    "trader": "green",
    "risk_manager": "red",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class StreamPrinter:
    """Prints tokens per agent in complete sentences, labelled."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.buffers: dict[str, str] = {}

    def _line(self, node: str, text: str) -> None:
        style = STYLE.get(node, "white")
        self.console.print(f"[{style}]\\[{node:>12}][/{style}] {escape(text.strip())}")

    def token(self, node: str, text: str) -> None:
        buffered = self.buffers.get(node, "") + text
        *done, rest = _SENTENCE_END.split(buffered)
        for sentence in done:
            if sentence.strip():
                self._line(node, sentence)
        self.buffers[node] = rest

    def flush(self, node: str) -> None:
        rest = self.buffers.pop(node, "")
        if rest.strip():
            self._line(node, rest)


def render(event: Any, printer: StreamPrinter, console: Console) -> None:
    if isinstance(event, RunStarted):
        console.print(
            f"[bold]run {event.run_id}[/bold]  {event.symbol} {event.interval}  models: "
            f"analysts={event.model_cheap}, decisions={event.model_strong}"
        )
        if event.as_of is not None:
            console.print(
                f"[bold cyan]REPLAY[/] of the bar containing {event.as_of:%Y-%m-%d %H:%M} UTC "
                "on stored history: the desk decides at that bar's close; nothing is traded."
            )
    elif isinstance(event, Token):
        printer.token(event.node, event.text)
    elif isinstance(event, AgentOutput):
        printer.flush(event.node)
        out = event.output
        flag = " [bold red]FALLBACK[/bold red]" if event.fallback else ""
        flag += " [cyan]CACHED[/cyan]" if event.cached else ""
        flag += " [yellow]REPAIRED[/yellow]" if event.repaired else ""
        flag += " [dim](tokens estimated: stream cut)[/dim]" if event.estimated_tokens else ""
        if "signal" in out:
            summary = f"{out['signal']} score {out['score']:+.2f} conf {out['confidence']:.2f}"
            summary += f" (source: {out.get('source') or '?'})"
        elif "direction" in out:
            summary = f"{out['direction']} conviction {out['conviction']:.2f}"
        elif "action" in out:
            summary = f"{out['action']} {out['size_pct']:.2f}%"
        else:
            summary = f"{out.get('verdict')} {out.get('size_pct', 0):.2f}%"
        style = STYLE.get(event.node, "white")
        console.print(
            f"[{style}]\\[{event.node:>12}][/{style}] [bold]→ {escape(summary)}[/bold]"
            f"  ({event.model}, {event.prompt_tokens}+{event.completion_tokens} tok, "
            f"${event.cost_usd:.4f}){flag}"
        )
        if event.fallback and event.error:
            console.print(f"[red]  reason: {escape(event.error)}[/red]")
        if out.get("source") == "synthetic":
            console.print("[bold yellow]  data: SYNTHETIC candles (not market prices)[/]")
    elif isinstance(event, Decision):
        verdict = "APPROVED" if event.approved else "REJECTED"
        if event.awaiting_approval:
            verdict = "AWAITING HUMAN APPROVAL"
        console.rule("decision")
        console.print(
            f"[bold]{event.action.upper()} {event.size_pct:.2f}%[/bold]  {verdict}  "
            f"entry {event.entry}  stop {event.stop_loss}  take-profit {event.take_profit}"
        )
        for reason in event.reasons:
            console.print(f"  - {escape(reason)}")
    elif isinstance(event, TradeEvent):
        console.print(
            f"[bold green]FILLED[/] {event.side} {event.quantity} {event.symbol} @ "
            f"{event.price} fee {event.fee} (trade {event.trade_id})"
        )
    elif isinstance(event, BudgetEvent):
        console.print(f"[bold red]BUDGET[/] {escape(event.reason or '')}")
    elif isinstance(event, ErrorEvent) and event.severity == "warning":
        console.print(f"[bold yellow]WARNING[/] {escape(event.message)}")
        if event.code == "stale_data":
            console.print("Fetch fresh candles (cryptofirm data fetch) or replay with --as-of.")
    elif isinstance(event, ErrorEvent):
        console.print(f"[bold red]error[/] {escape(event.node or '')} {escape(event.message)}")
    elif isinstance(event, RunFinished):
        console.print(
            f"[bold]{event.status}[/bold]  cost ${event.cost_usd:.4f}  tokens "
            f"{event.prompt_tokens} prompt + {event.completion_tokens} completion"
        )
        if event.reason:
            console.print(f"[bold]reason:[/bold] {escape(event.reason)}")


async def stream_to_console(events: Any, console: Console) -> str:
    printer = StreamPrinter(console)
    status = "failed"
    async for event in events:
        render(event, printer, console)
        if isinstance(event, RunFinished):
            status = event.status
    return status


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def model_settings() -> Any:
    """The settings, checked for the model configuration before any work starts: a bad value
    or a model setup that cannot work (unknown provider, missing price, key or base URL) is
    one line naming the setting and exit 2, never a traceback."""
    from pydantic import ValidationError

    from core.settings import get_settings
    from graph.context import client_from_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]).upper()
        raise fail(f"{field}: {first['msg']}") from None
    try:
        client_from_settings(settings)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return settings


def resolve_portfolio(
    engine: Any, name: str | None, *, create_default: bool, settings: Any = None
) -> int | None:
    """The named portfolio, or (when executing) the default one of the data's market kind:
    `<default>-synthetic` with synthetic data, so a synthetic fill never lands in a real one."""
    from core.settings import get_settings
    from persistence.portfolios import (
        UnknownPortfolioError,
        ensure_default_portfolio,
        get_portfolio_by_name,
    )

    settings = settings or get_settings()
    if name is None and not create_default:
        return None
    if name is None:
        return ensure_default_portfolio(engine, settings).id
    if name == settings.default_portfolio_name:
        return ensure_default_portfolio(engine, settings, kind="real").id
    try:
        return get_portfolio_by_name(engine, name).id
    except UnknownPortfolioError:
        raise fail(f"--portfolio: no portfolio named {name!r}") from None


def analyze(
    symbol: str = typer.Argument(..., help="Binance spot symbol, e.g. BTCUSDT"),
    interval: str = typer.Option("1h", "--interval", "-i", help="candle interval"),
    execute: bool = typer.Option(False, "--execute", help="trade the decision on the portfolio"),
    portfolio: str | None = typer.Option(None, "--portfolio", help="portfolio name"),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="replay the desk at the bar containing this UTC time (e.g. 2024-04-01T12:00) "
        "from stored candles; cannot be combined with --execute",
    ),
    blind: bool = typer.Option(
        False,
        "--blind",
        help="the desk sees an anonymous ticker, prices rebased (first of the last 12 closes = "
        "100) and relative times; cannot be combined with --execute",
    ),
    synthetic: bool = typer.Option(
        False,
        "--synthetic",
        help="analyse synthetic candles (labelled SYNTHETIC; trades only a synthetic portfolio)",
    ),
) -> None:
    """Run the six-agent desk once on SYMBOL and stream its reasoning.

    Candles come from the store (4h/1d built from finer stored candles when needed); with
    none stored the run fails naming what to fetch — synthetic candles only with --synthetic."""
    from core.settings import DataSourceMode
    from graph.runner import run_analysis
    from persistence.db import init_db

    symbol = validate.symbol(symbol)
    interval = validate.interval(interval)
    replay_at = validate.parse_time(as_of, "--as-of") if as_of is not None else None
    if replay_at is not None and execute:
        raise fail("--as-of: a replay of a past bar cannot --execute")
    if blind and execute:
        raise fail("--blind: a blind run sees rebased prices and cannot --execute")
    started = time.perf_counter()
    settings = model_settings()
    if synthetic:
        settings = settings.model_copy(update={"data_source": DataSourceMode.synthetic})
    engine = init_db(settings.database_url)
    portfolio_id = resolve_portfolio(engine, portfolio, create_default=execute, settings=settings)
    console = Console(highlight=False)
    events = run_analysis(
        symbol,
        interval,
        portfolio_id=portfolio_id,
        execute=execute,
        engine=engine,
        settings=settings,
        as_of=replay_at,
        blind=blind,
    )
    if blind:
        console.print(
            f"[bold cyan]BLIND[/] the desk sees {symbol} as ASSET, prices rebased (first of the "
            "last 12 closes = 100) and times relative to the decision (shown as 2000-01-01)"
        )
    status = asyncio.run(stream_to_console(events, console))
    console.print(f"[dim]wall time {time.perf_counter() - started:.2f}s[/dim]")
    # degraded: a decision was made with some agents on their fallback (the warning above says
    # which); exit 0. failed, budget_exceeded, cancelled: no decision, exit 1.
    if status not in ("completed", "degraded", "paused"):
        raise typer.Exit(code=1)
