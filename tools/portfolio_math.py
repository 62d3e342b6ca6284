"""The one derivation of a portfolio from its fills: cash, positions, realised P&L and fees.

Pure and exact (Decimal). The persistent ledger folds its `trades` rows through `apply_fill`;
the backtest's in-memory account folds its fills the same way, so both agree by construction.

Accounting (average cost, spot, long-only):
- Each position keeps its exact `cost_basis` (sum of quantity × price of its buys, fees
  excluded); `avg_entry_price` is `cost_basis / quantity`, shown, never used for bookkeeping.
- A sell removes `cost_basis × sold / held` from the basis (the whole basis when it closes the
  position) rounded to `BASIS_QUANTUM`; realised P&L is proceeds minus that removed basis.
- Fees are NOT in realised P&L or in the basis: they are tracked separately in `fees_paid` and
  paid out of cash. Hence, exactly, for any sequence of fills:
      cash + positions value = starting cash + realised + unrealised − fees
  where unrealised = Σ (quantity × mark price − cost_basis).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict, Field

from tools.broker import SimulatedBroker
from tools.errors import FieldValueError
from tools.orders import Fill, OrderRequest
from tools.provenance import MarketKind, check_same_market
from tools.provenance import MixedSourceError as MixedSourceError  # raised by `mark`

BASIS_QUANTUM = Decimal("1e-10")  # the ledger's MONEY scale
ZERO = Decimal(0)


class PortfolioMathError(FieldValueError):
    """A fill that the account cannot take; `field` names what is wrong."""


class InsufficientCashError(PortfolioMathError):
    pass


class InsufficientPositionError(PortfolioMathError):
    pass


class MissingPriceError(PortfolioMathError):
    pass


class PositionState(BaseModel):
    model_config = ConfigDict(frozen=True)

    symbol: str
    quantity: Decimal
    cost_basis: Decimal = Field(description="Σ quantity × price of the open buys, fees excluded")
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    protective_trade_id: int | None = Field(
        default=None, description="trade id of the buy that set stop/take-profit (exit ids)"
    )

    @property
    def avg_entry_price(self) -> Decimal:
        return self.cost_basis / self.quantity


class PortfolioState(BaseModel):
    model_config = ConfigDict(frozen=True)

    starting_cash: Decimal
    cash: Decimal
    positions: dict[str, PositionState] = Field(default_factory=dict)
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    fill_count: int = 0
    last_prices: dict[str, Decimal] = Field(
        default_factory=dict, description="last fill price per symbol ever traded"
    )
    market: MarketKind | None = Field(
        default=None,
        description="real | synthetic: the market every fill came from; marks must match it",
    )

    @classmethod
    def start(cls, starting_cash: Decimal, market: MarketKind | None = None) -> PortfolioState:
        if isinstance(starting_cash, float) or not isinstance(starting_cash, Decimal | int):
            raise PortfolioMathError("starting_cash", "must be Decimal, never float")
        if starting_cash < 0:
            raise PortfolioMathError("starting_cash", "must not be negative")
        return cls(starting_cash=Decimal(starting_cash), cash=Decimal(starting_cash), market=market)

    def quantity(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.quantity if position else ZERO


class PositionValuation(BaseModel):
    symbol: str
    quantity: Decimal
    avg_entry_price: Decimal
    mark_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None


class Valuation(BaseModel):
    cash: Decimal
    positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    equity: Decimal
    starting_cash: Decimal
    positions: list[PositionValuation]

    @property
    def return_pct(self) -> Decimal:
        if self.starting_cash == 0:
            return ZERO
        return (self.equity - self.starting_cash) / self.starting_cash * 100


def _check_fill(fill: Fill) -> None:
    for field in ("quantity", "price", "fee"):
        value = getattr(fill, field)
        if isinstance(value, float):
            raise PortfolioMathError(field, "must be Decimal, never float")
    if fill.quantity <= 0:
        raise PortfolioMathError("quantity", f"must be positive (got {fill.quantity})")
    if fill.price <= 0:
        raise PortfolioMathError("price", f"must be positive (got {fill.price})")
    if fill.fee < 0:
        raise PortfolioMathError("fee", f"must not be negative (got {fill.fee})")


def apply_fill(
    state: PortfolioState,
    fill: Fill,
    *,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
) -> PortfolioState:
    """The state after `fill`. Raises on overspending cash or selling more than is held.

    A buy that carries `stop_loss`/`take_profit` replaces the position's levels (and becomes the
    entry the protective exits are named after); a buy without them keeps the old ones.
    """
    _check_fill(fill)
    notional = fill.quantity * fill.price
    positions = dict(state.positions)
    held = positions.get(fill.symbol)
    if fill.side == "buy":
        cash = state.cash - notional - fill.fee
        if cash < 0:
            raise InsufficientCashError(
                "quantity",
                f"buying {fill.quantity} {fill.symbol} costs {notional + fill.fee} "
                f"with only {state.cash} cash",
            )
        new_levels = stop_loss is not None or take_profit is not None
        if held is None:
            positions[fill.symbol] = PositionState(
                symbol=fill.symbol,
                quantity=fill.quantity,
                cost_basis=notional,
                stop_loss=stop_loss,
                take_profit=take_profit,
                protective_trade_id=fill.trade_id if new_levels else None,
            )
        else:
            positions[fill.symbol] = held.model_copy(
                update={
                    "quantity": held.quantity + fill.quantity,
                    "cost_basis": held.cost_basis + notional,
                    **(
                        {
                            "stop_loss": stop_loss,
                            "take_profit": take_profit,
                            "protective_trade_id": fill.trade_id,
                        }
                        if new_levels
                        else {}
                    ),
                }
            )
        realized = state.realized_pnl
    else:
        held_qty = held.quantity if held else ZERO
        if held is None or fill.quantity > held_qty:
            raise InsufficientPositionError(
                "quantity", f"selling {fill.quantity} {fill.symbol} with only {held_qty} held"
            )
        cash = state.cash + notional - fill.fee
        if cash < 0:
            raise InsufficientCashError("fee", f"fee {fill.fee} exceeds cash after the sale")
        if fill.quantity == held.quantity:
            removed_basis = held.cost_basis
            del positions[fill.symbol]
        else:
            removed_basis = (held.cost_basis * fill.quantity / held.quantity).quantize(
                BASIS_QUANTUM, rounding=ROUND_HALF_EVEN
            )
            positions[fill.symbol] = held.model_copy(
                update={
                    "quantity": held.quantity - fill.quantity,
                    "cost_basis": held.cost_basis - removed_basis,
                }
            )
        realized = state.realized_pnl + notional - removed_basis
    return PortfolioState(
        market=state.market,
        starting_cash=state.starting_cash,
        cash=cash,
        positions=positions,
        realized_pnl=realized,
        fees_paid=state.fees_paid + fill.fee,
        fill_count=state.fill_count + 1,
        last_prices={**state.last_prices, fill.symbol: fill.price},
    )


def fold_fills(starting_cash: Decimal, fills: Iterable[Fill]) -> PortfolioState:
    """Fold plain fills (no protective levels) over a fresh account."""
    state = PortfolioState.start(starting_cash)
    for fill in fills:
        state = apply_fill(state, fill)
    return state


def mark(
    state: PortfolioState,
    prices: Mapping[str, Decimal],
    *,
    sources: Mapping[str, str] | None = None,
) -> Valuation:
    """Value the account at `prices`; every held symbol needs a price (no silent default).

    `sources` names where each price came from (`tools.provenance`); a price from the other
    market kind than the account's fills raises `MixedSourceError` — never a number."""
    valuations: list[PositionValuation] = []
    for symbol, position in sorted(state.positions.items()):
        price = prices.get(symbol)
        if price is None:
            raise MissingPriceError("prices", f"no mark price for held symbol {symbol}")
        source = (sources or {}).get(symbol)
        if source is not None and state.market is not None:
            check_same_market(state.market, source, what=f"mark {symbol}")
        if isinstance(price, float):
            raise MissingPriceError("prices", f"{symbol}: mark price must be Decimal, never float")
        value = position.quantity * price
        valuations.append(
            PositionValuation(
                symbol=symbol,
                quantity=position.quantity,
                avg_entry_price=position.avg_entry_price,
                mark_price=price,
                market_value=value,
                unrealized_pnl=value - position.cost_basis,
                stop_loss=position.stop_loss,
                take_profit=position.take_profit,
            )
        )
    positions_value = sum((v.market_value for v in valuations), ZERO)
    unrealized = sum((v.unrealized_pnl for v in valuations), ZERO)
    return Valuation(
        cash=state.cash,
        positions_value=positions_value,
        unrealized_pnl=unrealized,
        realized_pnl=state.realized_pnl,
        fees_paid=state.fees_paid,
        equity=state.cash + positions_value,
        starting_cash=state.starting_cash,
        positions=valuations,
    )


def equity_at(state: PortfolioState, symbol: str, price: Decimal) -> Decimal:
    """Equity with `symbol` marked at `price` and every other holding at its last fill price:
    what an order on `symbol` is sized and risk-checked against."""
    return mark(state, {**state.last_prices, symbol: price}).equity


def resolve_order_quantity(
    state: PortfolioState,
    order: OrderRequest,
    reference_price: Decimal,
    broker: SimulatedBroker,
) -> Decimal:
    """The quantity an order asks for, before the broker rounds it to the step.

    Buys sized by `size_pct_equity` spend that share of the equity — valued at
    `reference_price` for the order's symbol and the last fill price for the others — but never
    more than the cash there is (fee included). Sells take `quantity` or `sell_fraction` of the
    held quantity (a fraction of 1 is exactly the whole position).
    """
    if order.side == "buy":
        if order.quantity is not None:
            return order.quantity
        if order.size_pct_equity is None:
            raise PortfolioMathError("size_pct_equity", "a buy needs size_pct_equity or quantity")
        equity = equity_at(state, order.symbol, reference_price)
        budget = min(equity * order.size_pct_equity / 100, state.cash)
        return broker.size_buy(budget, reference_price, symbol=order.symbol)
    held = state.quantity(order.symbol)
    if held == 0:
        raise InsufficientPositionError("quantity", f"no {order.symbol} held to sell")
    if order.quantity is not None:
        if order.quantity > held:
            raise InsufficientPositionError(
                "quantity", f"selling {order.quantity} {order.symbol} with only {held} held"
            )
        return order.quantity
    if order.sell_fraction is None:
        raise PortfolioMathError("sell_fraction", "a sell needs sell_fraction or quantity")
    if order.sell_fraction == 1:
        return held
    return broker.round_quantity(order.symbol, held * order.sell_fraction)


def order_fill(
    state: PortfolioState,
    order: OrderRequest,
    quantity: Decimal,
    reference_price: Decimal,
    broker: SimulatedBroker,
    *,
    at: datetime,
    client_order_id: str,
) -> Fill:
    """The broker's market fill of `order` for `quantity` (from `resolve_order_quantity`).

    A sell of the whole position is exempt from the minimum notional, so dust can always leave.
    """
    return broker.market_fill(
        order.symbol,
        order.side,
        quantity,
        reference_price,
        at=at,
        client_order_id=client_order_id,
        reason=order.reason,
        closes_position=order.side == "sell" and quantity == state.quantity(order.symbol),
    )
