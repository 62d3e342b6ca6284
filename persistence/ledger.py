"""The ledger: `trades` is the single source of truth; everything else is derived from it.

Cash, positions, realised P&L and fees come from folding the portfolio's trades (in id order)
through `tools.portfolio_math.apply_fill`. The `positions` cache is rebuilt from that fold and a
`portfolio_snapshots` row is written inside the same transaction as every fill, so both always
reconcile with the ledger (`reconcile`).

Concurrency: every fill runs in one transaction that first locks the portfolio row —
`SELECT … FOR UPDATE` on Postgres, `BEGIN IMMEDIATE` (one writer at a time) on SQLite — and only
then reads the ledger, sizes the order and checks the cash. Concurrent runs on one portfolio are
therefore serialised and can never overspend. `client_order_id` is unique per portfolio: a
repeated order returns the fill already in the ledger and never writes a second trade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.risk import RiskLimits
from persistence.models import Portfolio, PortfolioSnapshot, Position, Trade
from persistence.portfolios import UnknownPortfolioError, validate_risk
from persistence.types import utcnow
from tools.broker import Bar, BrokerConfig, SimulatedBroker
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import (
    PortfolioState,
    apply_fill,
    mark,
    resolve_order_quantity,
)

MONEY_QUANTUM = Decimal("1e-10")


class LedgerError(ValueError):
    """An order the ledger refuses; `field` names what is wrong. Nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class RiskLimitExceeded(LedgerError):
    pass


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
            if engine.dialect.name == "sqlite":
                # pysqlite would BEGIN lazily (DEFERRED) at the first write; take the lock now.
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                row = session.get(Portfolio, portfolio_id)
            else:
                row = session.get(Portfolio, portfolio_id, with_for_update=True)
            if row is None:
                raise UnknownPortfolioError("portfolio_id", f"no portfolio with id {portfolio_id}")
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


def derive_state(session: Session, portfolio: Portfolio) -> PortfolioState:
    """Fold the portfolio's trades, oldest first, over its starting cash."""
    state = PortfolioState.start(portfolio.starting_cash)
    trades = session.scalars(
        select(Trade).where(Trade.portfolio_id == portfolio.id).order_by(Trade.id)
    )
    for trade in trades:
        state = apply_fill(
            state, trade_to_fill(trade), stop_loss=trade.stop_loss, take_profit=trade.take_profit
        )
    return state


def load_state(engine: Engine, portfolio_id: int) -> PortfolioState:
    with Session(engine) as session:
        portfolio = session.get(Portfolio, portfolio_id)
        if portfolio is None:
            raise UnknownPortfolioError("portfolio_id", f"no portfolio with id {portfolio_id}")
        return derive_state(session, portfolio)


def _rebuild_positions(
    session: Session, portfolio_id: int, state: PortfolioState, at: datetime
) -> None:
    session.execute(delete(Position).where(Position.portfolio_id == portfolio_id))
    for position in state.positions.values():
        session.add(
            Position(
                portfolio_id=portfolio_id,
                symbol=position.symbol,
                quantity=position.quantity,
                avg_entry_price=position.avg_entry_price.quantize(MONEY_QUANTUM),
                stop_loss=position.stop_loss,
                take_profit=position.take_profit,
                updated_at=at,
            )
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
        cash=valuation.cash,
        positions_value=valuation.positions_value,
        equity=valuation.equity,
        realized_pnl=valuation.realized_pnl,
        unrealized_pnl=valuation.unrealized_pnl,
        fees_paid=valuation.fees_paid,
        reason=reason,
    )
    session.add(snapshot)
    return snapshot


def _existing_fill(session: Session, portfolio_id: int, client_order_id: str) -> Fill | None:
    trade = session.scalar(
        select(Trade).where(
            Trade.portfolio_id == portfolio_id, Trade.client_order_id == client_order_id
        )
    )
    return trade_to_fill(trade) if trade is not None else None


def _check_inputs(price: Decimal, at: datetime, client_order_id: str) -> None:
    if isinstance(price, float) or not isinstance(price, Decimal | int):
        raise LedgerError("price", "must be a Decimal, never float")
    if not Decimal(price).is_finite() or price <= 0:
        raise LedgerError("price", f"must be positive (got {price})")
    if at.tzinfo is None:
        raise LedgerError("at", "must be timezone-aware (UTC)")
    if not client_order_id or len(client_order_id) > 80:
        raise LedgerError("client_order_id", "must be 1–80 characters")


def _check_risk(
    limits: RiskLimits, order: OrderRequest, state: PortfolioState, price: Decimal
) -> None:
    if order.side != "buy":
        return
    if order.size_pct_equity is not None:
        requested = order.size_pct_equity
    else:
        assert order.quantity is not None  # resolve_order_quantity has checked
        equity = mark(state, {**state.last_prices, order.symbol: price}).equity
        requested = order.quantity * price / equity * 100 if equity > 0 else Decimal(100)
    if requested > Decimal(str(limits.max_position_pct)):
        raise RiskLimitExceeded(
            "size_pct_equity",
            f"{requested.normalize()} % of equity exceeds max_position_pct "
            f"{limits.max_position_pct} %",
        )


def _record_fill(
    session: Session,
    portfolio: Portfolio,
    state: PortfolioState,
    fill: Fill,
    *,
    run_id: str | None,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
) -> Fill:
    """Insert the trade, then rebuild the cache and snapshot from the new fold (same tx)."""
    trade = Trade(
        portfolio_id=portfolio.id,
        run_id=run_id,
        client_order_id=fill.client_order_id,
        symbol=fill.symbol,
        side=fill.side,
        quantity=fill.quantity,
        price=fill.price,
        fee=fill.fee,
        slippage_bps=fill.slippage_bps,
        reason=fill.reason,
        stop_loss=stop_loss,
        take_profit=take_profit,
        executed_at=fill.executed_at,
    )
    session.add(trade)
    session.flush()
    stored = fill.model_copy(update={"trade_id": trade.id})
    new_state = apply_fill(state, stored, stop_loss=stop_loss, take_profit=take_profit)
    _rebuild_positions(session, portfolio.id, new_state, fill.executed_at)
    _write_snapshot(
        session, portfolio.id, new_state, dict(new_state.last_prices), fill.executed_at, "fill"
    )
    return stored


def execute_order(
    engine: Engine,
    portfolio_id: int,
    order: OrderRequest,
    *,
    client_order_id: str,
    price: Decimal,
    at: datetime,
    run_id: str | None = None,
    broker: SimulatedBroker | None = None,
) -> Fill | None:
    """Fill `order` at the reference `price`, once per `client_order_id`.

    Raises a `ValueError` subclass naming the field (unknown portfolio, size above
    max_position_pct, overselling, below minimum notional, float amounts) and writes nothing.
    Returns the existing fill when this `client_order_id` was already executed.
    """
    _check_inputs(price, at, client_order_id)
    broker = broker or SimulatedBroker(BrokerConfig.from_settings())
    try:
        with locked_portfolio(engine, portfolio_id) as (session, portfolio):
            existing = _existing_fill(session, portfolio_id, client_order_id)
            if existing is not None:
                return existing
            limits = validate_risk(portfolio.risk, where=f"portfolio {portfolio.name!r}")
            state = derive_state(session, portfolio)
            quantity = resolve_order_quantity(state, order, price, broker)
            _check_risk(limits, order, state, price)
            fill = broker.market_fill(
                order.symbol,
                order.side,
                quantity,
                price,
                at=at,
                client_order_id=client_order_id,
                reason=order.reason,
                closes_position=order.side == "sell" and quantity == state.quantity(order.symbol),
            )
            buy = order.side == "buy"
            return _record_fill(
                session,
                portfolio,
                state,
                fill,
                run_id=run_id,
                stop_loss=order.stop_loss if buy else None,
                take_profit=order.take_profit if buy else None,
            )
    except IntegrityError:
        # Only reachable if the lock was bypassed (e.g. a foreign writer): the unique
        # constraint still guarantees one trade per client_order_id.
        with Session(engine) as session:
            existing = _existing_fill(session, portfolio_id, client_order_id)
        if existing is None:
            raise
        return existing


class LedgerExecutor:
    """What the graph's `execute` node calls: one fill per run (`run:<run_id>`)."""

    def __init__(
        self, engine: Engine, portfolio_id: int, broker: SimulatedBroker | None = None
    ) -> None:
        self.engine = engine
        self.portfolio_id = portfolio_id
        self.broker = broker

    def execute(
        self, order: OrderRequest, *, run_id: str, price: Decimal, at: datetime
    ) -> Fill | None:
        return execute_order(
            self.engine,
            self.portfolio_id,
            order,
            client_order_id=f"run:{run_id}",
            price=price,
            at=at,
            run_id=run_id,
            broker=self.broker,
        )


def apply_bar_exits(
    engine: Engine,
    portfolio_id: int,
    symbol: str,
    bar: Bar,
    *,
    at: datetime | None = None,
    broker: SimulatedBroker | None = None,
) -> Fill | None:
    """Check the open position's stop-loss / take-profit against a new bar and fill the exit.

    Idempotent: the exit's client_order_id is `sl:<entry trade id>` / `tp:<entry trade id>`
    (the buy that set the levels), so replaying a bar never sells twice.
    """
    broker = broker or SimulatedBroker(BrokerConfig.from_settings())
    at = at or bar.open_time or utcnow()
    if at.tzinfo is None:
        raise LedgerError("at", "must be timezone-aware (UTC)")
    with locked_portfolio(engine, portfolio_id) as (session, portfolio):
        state = derive_state(session, portfolio)
        position = state.positions.get(symbol)
        if position is None or position.protective_trade_id is None:
            return None
        signal = broker.check_exit(position.stop_loss, position.take_profit, bar)
        if signal is None:
            return None
        prefix = "sl" if signal.reason == "stop_loss" else "tp"
        client_order_id = f"{prefix}:{position.protective_trade_id}"
        existing = _existing_fill(session, portfolio_id, client_order_id)
        if existing is not None:
            return existing
        fill = broker.exit_fill(
            signal, symbol, position.quantity, at=at, client_order_id=client_order_id
        )
        return _record_fill(
            session, portfolio, state, fill, run_id=None, stop_loss=None, take_profit=None
        )


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
        portfolio = session.get(Portfolio, portfolio_id)
        if portfolio is None:
            raise UnknownPortfolioError("portfolio_id", f"no portfolio with id {portfolio_id}")
        state = derive_state(session, portfolio)
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
    derived = {
        p.symbol: (
            p.quantity,
            p.avg_entry_price.quantize(MONEY_QUANTUM),
            p.stop_loss,
            p.take_profit,
        )
        for p in state.positions.values()
    }
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
