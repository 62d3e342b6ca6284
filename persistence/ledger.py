"""The ledger: `trades` is the single source of truth; everything else is derived from it.

Cash, positions, realised P&L and fees come from folding the portfolio's trades (in id order)
through `tools.portfolio_math.apply_fill`. The `positions` cache is rebuilt from that fold and a
`portfolio_snapshots` row is written inside the same transaction as every fill, so both always
reconcile with the ledger (`reconcile`). This module executes; what is derived from the trades
(fold, cache, snapshots, reconcile) lives in `persistence.ledger_state`.

Concurrency: every fill runs in one transaction that first locks the portfolio row —
`SELECT … FOR UPDATE` on Postgres, `BEGIN IMMEDIATE` (one writer at a time) on SQLite — and only
then reads the ledger, sizes the order and checks the cash. Concurrent runs on one portfolio are
therefore serialised and can never overspend. `client_order_id` is unique per portfolio: a
repeated order returns the fill already in the ledger and never writes a second trade.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.risk import RiskLimits
from persistence.ledger_state import (
    Discrepancy,
    LedgerError,
    MarkedPortfolio,
    ReconcileError,
    derive_state,
    load_state,
    locked_portfolio,
    reconcile,
    refresh_derived,
    take_snapshot,
    trade_to_fill,
    value_portfolio,
)
from persistence.models import Portfolio, Trade
from persistence.portfolios import validate_risk
from persistence.types import utcnow
from tools.broker import Bar, BrokerConfig, SimulatedBroker
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import (
    PortfolioState,
    apply_fill,
    equity_at,
    order_fill,
    resolve_order_quantity,
)
from tools.provenance import check_same_market

# Callers read and write the ledger through this one module, so it re-exports the derived side.
__all__ = [
    "Discrepancy",
    "LedgerError",
    "LedgerExecutor",
    "MarkedPortfolio",
    "ReconcileError",
    "RiskLimitExceeded",
    "apply_bar_exits",
    "execute_order",
    "load_state",
    "reconcile",
    "take_snapshot",
    "value_portfolio",
]


# The fill's fields a `trades` row stores as they are.
TRADE_FIELDS = {
    "client_order_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "slippage_bps",
    "reason",
    "executed_at",
}


class RiskLimitExceeded(LedgerError):
    pass


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
        equity = equity_at(state, order.symbol, price)
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
        stop_loss=stop_loss,
        take_profit=take_profit,
        **fill.model_dump(include=TRADE_FIELDS),
    )
    session.add(trade)
    session.flush()
    stored = fill.model_copy(update={"trade_id": trade.id})
    new_state = apply_fill(state, stored, stop_loss=stop_loss, take_profit=take_profit)
    refresh_derived(session, portfolio.id, new_state, fill.executed_at)
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
    price_source: str | None = None,
) -> Fill | None:
    """Fill `order` at the reference `price`, once per `client_order_id`.

    `price_source` (`tools.provenance`) says where the price came from: a price of the other
    market kind than the portfolio's (a synthetic price for a real portfolio) is refused with
    `MixedSourceError` before anything is read or written.

    Raises a `ValueError` subclass naming the field (unknown portfolio, size above
    max_position_pct, overselling, below minimum notional, float amounts) and writes nothing.
    Returns the existing fill when this `client_order_id` was already executed.
    """
    _check_inputs(price, at, client_order_id)
    broker = broker or SimulatedBroker(BrokerConfig.from_settings())
    try:
        with locked_portfolio(engine, portfolio_id) as (session, portfolio):
            if price_source is not None:
                check_same_market(
                    "synthetic" if portfolio.kind == "synthetic" else "real",
                    price_source,
                    what=f"price_source: portfolio {portfolio.name!r} is {portfolio.kind}",
                )
            existing = _existing_fill(session, portfolio_id, client_order_id)
            if existing is not None:
                return existing
            limits = validate_risk(portfolio.risk, where=f"portfolio {portfolio.name!r}")
            state = derive_state(session, portfolio)
            quantity = resolve_order_quantity(state, order, price, broker)
            _check_risk(limits, order, state, price)
            fill = order_fill(
                state, order, quantity, price, broker, at=at, client_order_id=client_order_id
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
        self,
        order: OrderRequest,
        *,
        run_id: str,
        price: Decimal,
        at: datetime,
        source: str | None = None,
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
            price_source=source,
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
