"""The ledger: `trades` is the single source of truth; everything else is derived from it.

Cash, positions, realised P&L and fees come from folding the portfolio's trades (in id order)
through `tools.portfolio_math.apply_fill`. The `positions` cache is rebuilt from that fold and a
`portfolio_snapshots` row is written inside the same transaction as every fill, so both always
reconcile with the ledger (`reconcile`). This module executes; what is derived from the trades
(fold, cache, snapshots, reconcile) lives in `persistence.ledger_state`.

Concurrency: every fill runs in one transaction that first locks the portfolio row —
`SELECT … FOR UPDATE` on Postgres, `BEGIN IMMEDIATE` (one writer at a time) on SQLite — and only
then reads the ledger, sizes the order and enforces the risk limits (`core.risk`: position,
exposure, cash reserve, circuit breakers, stop distance) on that fresh state. Concurrent runs on
one portfolio are therefore serialised and can never overspend nor exceed a limit; the desk's
risk gate only pre-checks on a possibly stale view, the ledger is the authority.
`client_order_id` is unique per portfolio: a repeated order returns the fill already in the
ledger and never writes a second trade.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_UP, Decimal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.risk import (
    AccountFigures,
    OrderSkipped,
    RiskLimits,
    breaker_tripped,
    buy_room,
    new_breaches,
    stop_floor,
)
from persistence.ledger_state import (
    MONEY_QUANTUM,
    Discrepancy,
    LedgerError,
    MarkedPortfolio,
    ReconcileError,
    derive_state,
    equity_marks,
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
from tools.broker import Bar, BrokerConfig, OrderRejected, SimulatedBroker
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import (
    ZERO,
    PortfolioState,
    apply_fill,
    mark,
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
    "OrderSkipped",
    "ReconcileError",
    "account_figures",
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


def account_figures(state: PortfolioState, symbol: str, price: Decimal) -> AccountFigures:
    """The limits' measures: `symbol` marked at `price`, other holdings at their last fill."""
    valuation = mark(state, {**state.last_prices, symbol: price})
    held = next((v.market_value for v in valuation.positions if v.symbol == symbol), ZERO)
    others = [v.market_value for v in valuation.positions if v.symbol != symbol]
    return AccountFigures(
        equity=valuation.equity,
        cash=state.cash,
        position_value=held,
        exposure=valuation.positions_value,
        largest_other=max(others, default=ZERO),
    )


def _cost_rate(broker: SimulatedBroker) -> Decimal:
    slip = broker.config.slippage_bps / Decimal(10_000)
    return (1 + slip) * (1 + broker.config.fee_rate) - 1


def _checked_stop(
    limits: RiskLimits, order: OrderRequest, price: Decimal
) -> tuple[Decimal | None, list[str]]:
    """The buy's stop-loss within `max_stop_distance_pct` (a too-distant one is moved up)."""
    stop = order.stop_loss
    if stop is None:
        return None, []
    if stop >= price:
        raise LedgerError("stop_loss", f"{stop} is not below the entry price {price}")
    floor = stop_floor(limits, price).quantize(MONEY_QUANTUM, rounding=ROUND_UP)
    if stop >= floor:
        return stop, []
    return floor, [
        f"stop-loss {stop} is more than {limits.max_stop_distance_pct}% below {price}: "
        f"moved to {floor.normalize():f}"
    ]


def _fill_within_limits(
    state: PortfolioState,
    order: OrderRequest,
    price: Decimal,
    broker: SimulatedBroker,
    limits: RiskLimits,
    *,
    day_marks: tuple[Decimal, Decimal],
    at: datetime,
    client_order_id: str,
) -> Fill:
    """The fill of a buy, cut so that the state after it is within every limit (measured on
    the locked, fresh `state`). Raises `OrderSkipped` when nothing can be bought."""
    symbol = order.symbol
    before = account_figures(state, symbol, price)
    day_start, peak = day_marks
    why = breaker_tripped(
        limits, equity=before.equity, day_start_equity=day_start, peak_equity=peak
    )
    if why is not None:
        raise OrderSkipped(f"buy {symbol} skipped: {why}")
    requested = resolve_order_quantity(state, order, price, broker)
    if requested <= 0:
        raise OrderSkipped(f"buy {symbol} skipped: the order buys less than one step")
    rooms = buy_room(limits, before, cost_rate=_cost_rate(broker))
    binding, room = min(rooms.items(), key=lambda item: item[1])
    quantity = min(requested, broker.round_quantity(symbol, room / price))
    adjustments: list[str] = []
    if quantity < requested:
        adjustments.append(
            f"buy {requested.normalize():f} {symbol} cut to {quantity.normalize():f} by the "
            f"{binding} (room {room:.2f} of equity {before.equity:.2f})"
        )
    step = broker.rules_for(symbol).step_size
    while quantity > 0:
        try:
            fill = order_fill(
                state, order, quantity, price, broker, at=at, client_order_id=client_order_id
            )
        except OrderRejected as exc:
            if order.quantity is not None and not adjustments:
                raise  # an explicit quantity the broker refuses is a bad order
            raise OrderSkipped(f"buy {symbol} skipped: {exc.message}") from None
        after = account_figures(apply_fill(state, fill), symbol, price)
        if not new_breaches(limits, before, after):
            return fill.model_copy(update={"adjustments": adjustments})
        quantity -= step  # the broker's rounding (tick, fee) overshot by a hair
    room_pct = room / before.equity * 100 if before.equity > 0 else ZERO
    raise OrderSkipped(
        f"buy {symbol} skipped: no room under the {binding} "
        f"({room_pct:.4f}% of equity left, a minimum of one {step} step needed)"
    )


def _fill(
    state: PortfolioState,
    order: OrderRequest,
    price: Decimal,
    broker: SimulatedBroker,
    *,
    at: datetime,
    client_order_id: str,
) -> Fill:
    """A sell: never limited (selling reduces risk). Nothing held, or a fraction below the
    broker's minimum, is a skip; an explicit quantity above the holding is an error."""
    relative = order.quantity is None
    if relative and state.quantity(order.symbol) == 0:
        raise OrderSkipped(f"sell {order.symbol} skipped: nothing held")
    quantity = resolve_order_quantity(state, order, price, broker)
    try:
        return order_fill(
            state, order, quantity, price, broker, at=at, client_order_id=client_order_id
        )
    except OrderRejected as exc:
        if not relative:
            raise
        raise OrderSkipped(f"sell {order.symbol} skipped: {exc.message}") from None


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
) -> Fill:
    """Fill `order` at the reference `price`, once per `client_order_id`.

    `price_source` (`tools.provenance`) says where the price came from: a price of the other
    market kind than the portfolio's (a synthetic price for a real portfolio) is refused with
    `MixedSourceError` before anything is read or written.

    The risk limits are enforced here, under the portfolio lock, on the fresh ledger state: a
    buy is cut so that afterwards the position, the total exposure and the cash reserve are
    within the portfolio's `RiskLimits` (the cuts are listed in `Fill.adjustments`), and
    blocked by the daily-loss and drawdown breakers; a too-distant stop-loss is moved up.
    `OrderSkipped` (nothing written) when no quantity fits or nothing is held to sell.
    Raises a `ValueError` subclass naming the field for bad input (unknown portfolio,
    overselling an explicit quantity, float amounts) and writes nothing.
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
            stop_loss, take_profit = None, None
            if order.side == "buy":
                stop_loss, stop_notes = _checked_stop(limits, order, price)
                take_profit = order.take_profit
                fill = _fill_within_limits(
                    state,
                    order,
                    price,
                    broker,
                    limits,
                    day_marks=equity_marks(session, portfolio, at),
                    at=at,
                    client_order_id=client_order_id,
                )
                fill.adjustments = [*stop_notes, *fill.adjustments]
            else:
                fill = _fill(state, order, price, broker, at=at, client_order_id=client_order_id)
            stored = _record_fill(
                session,
                portfolio,
                state,
                fill,
                run_id=run_id,
                stop_loss=stop_loss,
                take_profit=take_profit,
            )
            return stored
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
    ) -> Fill:
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
