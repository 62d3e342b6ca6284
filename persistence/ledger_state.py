"""What the ledger derives from `trades`: the folded state, the positions cache, snapshots, and
the reconciliation of both against the fold.

`persistence.ledger` (execution) writes trades and calls `refresh_derived` in the same
transaction; this module never writes a trade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from persistence.models import Portfolio, PortfolioSnapshot, Position, Trade
from persistence.portfolios import MarkPrice, mark_prices, require_portfolio
from persistence.types import utcnow
from tools.errors import FieldValueError
from tools.orders import Fill
from tools.portfolio_math import (
    BASIS_QUANTUM,
    PortfolioState,
    PositionState,
    Valuation,
    apply_fill,
    mark,
)
from tools.provenance import MarketKind

MONEY_QUANTUM = BASIS_QUANTUM  # the ledger's money columns' scale
# The valuation figures a `portfolio_snapshots` row stores.
SNAPSHOT_FIELDS = {
    "cash",
    "positions_value",
    "equity",
    "realized_pnl",
    "unrealized_pnl",
    "fees_paid",
}


class LedgerError(FieldValueError):
    """An order the ledger refuses; `field` names what is wrong. Nothing was written."""


class ReconcileError(LedgerError):
    pass


class Discrepancy(BaseModel):
    what: str
    ledger: str
    cached: str


@contextmanager
def locked_portfolio(engine: Engine, portfolio_id: int) -> Iterator[tuple[Session, Portfolio]]:
    """A transaction holding the portfolio's write lock; commits on success."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:
                # pysqlite would BEGIN lazily (DEFERRED) at the first write; take the lock now.
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            row = require_portfolio(session, portfolio_id, for_update=not sqlite)
            yield session, row
            session.commit()
        except BaseException:
            session.rollback()
            raise


def trade_to_fill(trade: Trade) -> Fill:
    return Fill(
        symbol=trade.symbol,
        side=trade.side,  # type: ignore[arg-type]
        quantity=trade.quantity,
        price=trade.price,
        fee=trade.fee,
        slippage_bps=trade.slippage_bps,
        reason=trade.reason,  # type: ignore[arg-type]
        executed_at=trade.executed_at,
        client_order_id=trade.client_order_id,
        trade_id=trade.id,
    )


def _market(kind: str) -> MarketKind:
    return "synthetic" if kind == "synthetic" else "real"


def derive_state(session: Session, portfolio: Portfolio) -> PortfolioState:
    """Fold the portfolio's trades, oldest first, over its starting cash."""
    state = PortfolioState.start(portfolio.starting_cash, market=_market(portfolio.kind))
    trades = session.scalars(
        select(Trade).where(Trade.portfolio_id == portfolio.id).order_by(Trade.id)
    )
    for trade in trades:
        state = apply_fill(
            state, trade_to_fill(trade), stop_loss=trade.stop_loss, take_profit=trade.take_profit
        )
    return state


def equity_marks(session: Session, portfolio: Portfolio, at: datetime) -> tuple[Decimal, Decimal]:
    """(day-start equity, peak equity) the circuit breakers measure against, from the snapshots:
    the last snapshot before the UTC midnight that starts `at`'s day (else the starting cash),
    and the highest snapshot (at least the starting cash)."""
    midnight = datetime.combine(at.astimezone(UTC).date(), time(0), tzinfo=UTC)
    day_start = session.scalar(
        select(PortfolioSnapshot.equity)
        .where(
            PortfolioSnapshot.portfolio_id == portfolio.id,
            PortfolioSnapshot.taken_at < midnight,
        )
        .order_by(PortfolioSnapshot.taken_at.desc(), PortfolioSnapshot.id.desc())
        .limit(1)
    )
    # Max in Python: SQLite stores exact decimals as text, where MAX would compare strings.
    equities = session.scalars(
        select(PortfolioSnapshot.equity).where(PortfolioSnapshot.portfolio_id == portfolio.id)
    )
    peak = max(equities, default=None)
    starting = portfolio.starting_cash
    return (
        day_start if day_start is not None else starting,
        max(peak, starting) if peak is not None else starting,
    )


def realized_by_trade(session: Session, portfolio: Portfolio) -> dict[int, Decimal]:
    """Each sell's realised P&L by trade id: the change it made to the fold's `realized_pnl`
    (proceeds minus the cost basis it removed, before fees), so the figures add up to the
    portfolio's realised P&L."""
    state = PortfolioState.start(portfolio.starting_cash)
    out: dict[int, Decimal] = {}
    trades = session.scalars(
        select(Trade).where(Trade.portfolio_id == portfolio.id).order_by(Trade.id)
    )
    for trade in trades:
        before = state.realized_pnl
        state = apply_fill(
            state, trade_to_fill(trade), stop_loss=trade.stop_loss, take_profit=trade.take_profit
        )
        if trade.side == "sell":
            out[trade.id] = state.realized_pnl - before
    return out


def load_state(engine: Engine, portfolio_id: int) -> PortfolioState:
    with Session(engine) as session:
        return derive_state(session, require_portfolio(session, portfolio_id))


class MarkedPortfolio(BaseModel):
    """The ledger's state valued at the best prices there are; `marks` says where each came from."""

    state: PortfolioState
    marks: dict[str, MarkPrice]
    valuation: Valuation


def value_portfolio(
    engine: Engine, portfolio_id: int, *, as_of: datetime | None = None
) -> MarkedPortfolio:
    """Mark every holding at its latest stored candle close (closed by `as_of`: a replay
    session's clock), else its last fill price."""
    state = load_state(engine, portfolio_id)
    kind = state.market or "real"
    marks = mark_prices(engine, state.positions, state.last_prices, kind, as_of=as_of)
    valuation = mark(
        state,
        {symbol: m.price for symbol, m in marks.items()},
        sources={
            symbol: "synthetic" if m.market == "synthetic" else "store"
            for symbol, m in marks.items()
        },
    )
    return MarkedPortfolio(state=state, marks=marks, valuation=valuation)


def _cached_form(
    position: PositionState,
) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None]:
    """A position as the `positions` cache stores it (average price at the column's scale)."""
    return (
        position.quantity,
        position.avg_entry_price.quantize(MONEY_QUANTUM),
        position.stop_loss,
        position.take_profit,
    )


def _write_snapshot(
    session: Session,
    portfolio_id: int,
    state: PortfolioState,
    prices: dict[str, Decimal],
    at: datetime,
    reason: str,
) -> PortfolioSnapshot:
    valuation = mark(state, prices)
    snapshot = PortfolioSnapshot(
        portfolio_id=portfolio_id,
        taken_at=at,
        reason=reason,
        **valuation.model_dump(include=SNAPSHOT_FIELDS),
    )
    session.add(snapshot)
    return snapshot


def refresh_derived(
    session: Session, portfolio_id: int, state: PortfolioState, at: datetime
) -> None:
    """Rebuild the positions cache from `state` and snapshot it at the last fill prices."""
    session.execute(delete(Position).where(Position.portfolio_id == portfolio_id))
    for position in state.positions.values():
        quantity, avg_entry_price, stop_loss, take_profit = _cached_form(position)
        session.add(
            Position(
                portfolio_id=portfolio_id,
                symbol=position.symbol,
                quantity=quantity,
                avg_entry_price=avg_entry_price,
                stop_loss=stop_loss,
                take_profit=take_profit,
                updated_at=at,
            )
        )
    _write_snapshot(session, portfolio_id, state, dict(state.last_prices), at, "fill")


def take_snapshot(
    engine: Engine,
    portfolio_id: int,
    prices: dict[str, Decimal] | None = None,
    *,
    at: datetime | None = None,
) -> PortfolioSnapshot:
    """An on-demand snapshot, marked at `prices` (default: the last fill prices)."""
    with locked_portfolio(engine, portfolio_id) as (session, portfolio):
        state = derive_state(session, portfolio)
        marks = {**state.last_prices, **(prices or {})}
        return _write_snapshot(session, portfolio_id, state, marks, at or utcnow(), "manual")


def reconcile(engine: Engine, portfolio_id: int, *, strict: bool = False) -> list[Discrepancy]:
    """Compare the positions cache and the latest snapshot with the ledger's fold.

    Returns the discrepancies (empty when all agree); with `strict`, raises `ReconcileError`.
    """
    with Session(engine) as session:
        state = derive_state(session, require_portfolio(session, portfolio_id))
        rows = session.scalars(select(Position).where(Position.portfolio_id == portfolio_id))
        snapshot = session.scalar(
            select(PortfolioSnapshot)
            .where(PortfolioSnapshot.portfolio_id == portfolio_id)
            .order_by(PortfolioSnapshot.id.desc())
            .limit(1)
        )
        cached = {
            r.symbol: (r.quantity, r.avg_entry_price, r.stop_loss, r.take_profit) for r in rows
        }
    derived = {p.symbol: _cached_form(p) for p in state.positions.values()}
    found = [
        Discrepancy(what=f"position {s}", ledger=str(derived.get(s)), cached=str(cached.get(s)))
        for s in sorted(set(cached) | set(derived))
        if derived.get(s) != cached.get(s)
    ]
    if state.fill_count and snapshot is None:
        found.append(Discrepancy(what="snapshot", ledger="fills exist", cached="none"))
    elif state.fill_count and snapshot is not None:
        for name in ("cash", "realized_pnl", "fees_paid"):
            want, got = getattr(state, name).quantize(MONEY_QUANTUM), getattr(snapshot, name)
            if want != got:
                found.append(
                    Discrepancy(what=f"snapshot {name}", ledger=str(want), cached=str(got))
                )
    if found and strict:
        raise ReconcileError("portfolio_id", f"{len(found)} discrepancies: {found}")
    return found
