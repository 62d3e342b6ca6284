"""`cryptofirm portfolio …` — show, create, list, trades, snapshot.

Every command migrates the database first. Bad input ends with one `error: …` line and exit
code 2. Balances shown are derived from the ledger (`persistence.ledger`), never stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from cli import validate

EXIT_BAD_INPUT = 2

app = typer.Typer(no_args_is_help=True)
console = Console()


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _engine() -> Engine:
    from core.settings import get_settings
    from persistence.db import init_db

    return init_db(get_settings().database_url)


def _resolve(engine: Engine, name: str | None) -> int:
    from core.settings import get_settings
    from persistence.portfolios import ensure_default_portfolio, get_portfolio_by_name

    if name is None or name == get_settings().default_portfolio_name:
        return ensure_default_portfolio(engine).id
    return get_portfolio_by_name(engine, name).id


def _money(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{places}f}"


@app.command("show")
def show(
    name: Annotated[
        str | None, typer.Option(help="portfolio name (default: the default one)")
    ] = None,
) -> None:
    """Cash, positions with mark prices and P&L."""
    from persistence.ledger import value_portfolio
    from persistence.portfolios import get_portfolio
    from persistence.sessions import replay_clock

    engine = _engine()
    try:
        portfolio = get_portfolio(engine, _resolve(engine, name))
        clock = replay_clock(engine, portfolio.id)
        marked = value_portfolio(engine, portfolio.id, as_of=clock)
    except ValueError as exc:
        _fail(str(exc))
    valuation, marks = marked.valuation, marked.marks

    console.print(
        f"[bold]{portfolio.name}[/bold] (id {portfolio.id}, {portfolio.base_currency}) "
        f"approval required: {'yes' if portfolio.require_approval else 'no'}"
    )
    if clock is not None:
        console.print(f"valued at its replay session's clock: {clock:%Y-%m-%d %H:%M} UTC")
    positions = Table(title="Positions")
    for column in (
        "symbol",
        "qty",
        "avg entry",
        "mark",
        "mark source",
        "unrealised P&L",
        "SL",
        "TP",
    ):
        positions.add_column(
            column, justify="left" if column in {"symbol", "mark source"} else "right"
        )
    for pv in valuation.positions:
        positions.add_row(
            pv.symbol,
            f"{pv.quantity.normalize():f}",
            _money(pv.avg_entry_price),
            _money(pv.mark_price),
            "latest candle" if marks[pv.symbol].source == "candle" else "last fill price",
            _money(pv.unrealized_pnl),
            _money(pv.stop_loss),
            _money(pv.take_profit),
        )
    console.print(positions)

    pnl = Table(title="P&L")
    pnl.add_column("item")
    pnl.add_column("amount", justify="right")
    for label, value in (
        ("starting cash", valuation.starting_cash),
        ("cash", valuation.cash),
        ("positions value", valuation.positions_value),
        ("realised P&L", valuation.realized_pnl),
        ("unrealised P&L", valuation.unrealized_pnl),
        ("fees paid", valuation.fees_paid),
        ("equity", valuation.equity),
    ):
        pnl.add_row(label, _money(value))
    pnl.add_row("return %", f"{valuation.return_pct:.2f} %")
    console.print(pnl)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="unique portfolio name")],
    cash: Annotated[str, typer.Option(help="starting cash in the quote currency")] = "10000",
    require_approval: Annotated[bool, typer.Option("--require-approval")] = False,
    max_position_pct: Annotated[
        float | None, typer.Option(help="largest single position, % of equity")
    ] = None,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="a synthetic-market portfolio (synthetic candles)")
    ] = False,
) -> None:
    """Create a portfolio with its own starting cash and risk limits (real market unless
    --synthetic: a portfolio never mixes synthetic and real fills)."""
    from core.bounds import Cash, Name
    from persistence.portfolios import create_portfolio

    try:
        starting_cash = Decimal(cash)
    except InvalidOperation:
        _fail(f"--cash: not a number: {cash!r}")
    starting_cash = validate.check(Cash, starting_cash, "--cash")
    name = validate.check(Name, name, "NAME")
    risk = {} if max_position_pct is None else {"max_position_pct": max_position_pct}
    engine = _engine()
    try:
        created = create_portfolio(
            engine,
            name,
            starting_cash,
            require_approval=require_approval,
            risk=risk,
            kind="synthetic" if synthetic else "real",
        )
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(
        f"created {created.kind} portfolio {created.name!r} (id {created.id}) "
        f"with {created.starting_cash}"
    )


@app.command("list")
def list_() -> None:
    """All portfolios with their equity at the last fill prices."""
    from persistence.ledger import load_state
    from persistence.portfolios import ensure_default_portfolio, list_portfolios
    from tools.portfolio_math import mark

    engine = _engine()
    try:
        ensure_default_portfolio(engine)
        portfolios = list_portfolios(engine)
    except ValueError as exc:
        _fail(str(exc))
    table = Table(title="Portfolios")
    for column in ("id", "name", "starting cash", "cash", "equity (last fills)", "approval"):
        table.add_column(column)
    for p in portfolios:
        state = load_state(engine, p.id)
        equity = mark(state, state.last_prices).equity
        table.add_row(
            str(p.id),
            p.name,
            _money(p.starting_cash),
            _money(state.cash),
            _money(equity),
            "yes" if p.require_approval else "no",
        )
    console.print(table)


@app.command("trades")
def trades(
    name: Annotated[str | None, typer.Option(help="portfolio name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="most recent N trades")] = 50,
) -> None:
    """The ledger, newest first."""
    from persistence.db import session_scope
    from persistence.models import Trade

    engine = _engine()
    try:
        portfolio_id = _resolve(engine, name)
    except ValueError as exc:
        _fail(str(exc))
    with session_scope(engine) as session:
        rows = session.scalars(
            select(Trade)
            .where(Trade.portfolio_id == portfolio_id)
            .order_by(Trade.id.desc())
            .limit(limit)
        ).all()
    table = Table(title="Trades")
    for column in (
        "id",
        "time (UTC)",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "reason",
        "order id",
    ):
        table.add_column(column)
    for t in rows:
        table.add_row(
            str(t.id),
            t.executed_at.strftime("%Y-%m-%d %H:%M"),
            t.symbol,
            t.side,
            f"{t.quantity.normalize():f}",
            _money(t.price),
            _money(t.fee, 4),
            t.reason,
            t.client_order_id,
        )
    console.print(table)


@app.command("snapshot")
def snapshot(name: Annotated[str | None, typer.Option(help="portfolio name")] = None) -> None:
    """Write an equity snapshot now, marked like `show`."""
    from persistence.ledger import take_snapshot, value_portfolio

    engine = _engine()
    try:
        portfolio_id = _resolve(engine, name)
        marks = value_portfolio(engine, portfolio_id).marks
        snap = take_snapshot(engine, portfolio_id, {s: m.price for s, m in marks.items()})
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(
        f"snapshot {snap.id}: equity {_money(snap.equity)} cash {_money(snap.cash)} "
        f"at {snap.taken_at:%Y-%m-%d %H:%M:%S} UTC"
    )
