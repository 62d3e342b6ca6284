"""The simulated broker: pure, exact (Decimal) market-order fills for a spot, long-only account.

Used alike by the persistent ledger (`persistence.ledger`) and the in-memory backtest account.

Fill model
- A market order fills at a *reference price* chosen by the caller: the next bar's open in a
  backtest, the latest price in live analysis, the trigger price of a protective exit.
- Slippage (bps) always goes against the taker: buys pay up, sells receive less. The slipped
  price is rounded to the symbol's tick, again against the taker (buys up, sells down).
- The taker fee is `fee_rate` × notional, in the quote currency, rounded up to `FEE_QUANTUM`.
- Quantities are rounded DOWN to the symbol's step size; an order whose notional is below the
  symbol's minimum is rejected (`OrderRejected`). One deliberate departure from Binance: a sell
  that closes the whole position (`closes_position=True`) is exempt from the minimum notional,
  so that a stop on a small position can never be stranded as unsellable dust.

Protective exits (`check_exit`, long positions), checked on every new bar:
- a bar that opens at or below the stop gapped through it: the stop fills at the OPEN;
- a bar that opens at or above the take-profit gapped over it: the take-profit fills at the
  OPEN too (a resting limit sell would get the better open price; we take it, no bonus beyond);
- otherwise, when both levels lie inside the bar's range we cannot know which came first and
  assume the STOP filled first (the pessimistic choice);
- exits are market orders: slippage applies to them like any other fill.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.errors import FieldValueError
from tools.orders import Fill, FillReason, Side

FEE_QUANTUM = Decimal("1e-10")  # the ledger's MONEY column scale
MONEY_SCALE = 10
QUANTITY_SCALE = 12
BPS = Decimal(10_000)


class OrderRejected(FieldValueError):
    """The broker refuses the order (below minimum notional, nothing left after rounding…)."""


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent if exponent < 0 else 0


class SymbolRules(BaseModel):
    """Exchange filters for one symbol (Binance's LOT_SIZE, PRICE_FILTER, NOTIONAL).

    Step and tick together must have at most 10 decimal places so that every notional
    (quantity × price) is exact at the ledger's money scale — the ledger can then re-derive
    cash from stored trades with no rounding at all.
    """

    model_config = ConfigDict(frozen=True)

    step_size: Decimal = Field(gt=0)
    tick_size: Decimal = Field(gt=0)
    min_notional: Decimal = Field(ge=0)

    @model_validator(mode="after")
    def _fits_ledger_scale(self) -> SymbolRules:
        step_places, tick_places = _exponent(self.step_size), _exponent(self.tick_size)
        if step_places > QUANTITY_SCALE:
            raise ValueError(f"step_size: more than {QUANTITY_SCALE} decimal places")
        if step_places + tick_places > MONEY_SCALE:
            raise ValueError(
                f"step_size/tick_size: {step_places}+{tick_places} decimal places exceed "
                f"the ledger's money scale {MONEY_SCALE}"
            )
        return self


# Binance spot filters (2025) for the firm's symbols; min notional 5 USDT.
DEFAULT_RULES: dict[str, SymbolRules] = {
    "BTCUSDT": SymbolRules(
        step_size=Decimal("0.00001"), tick_size=Decimal("0.01"), min_notional=Decimal(5)
    ),
    "ETHUSDT": SymbolRules(
        step_size=Decimal("0.0001"), tick_size=Decimal("0.01"), min_notional=Decimal(5)
    ),
}
# Any other symbol: fine enough for cheap and expensive coins alike, within the ledger scale.
FALLBACK_RULES = SymbolRules(
    step_size=Decimal("0.001"), tick_size=Decimal("0.0000001"), min_notional=Decimal(5)
)


class BrokerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    slippage_bps: Decimal = Field(default=Decimal(5), ge=0, lt=BPS)
    rules: dict[str, SymbolRules] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    fallback_rules: SymbolRules = FALLBACK_RULES

    def rules_for(self, symbol: str) -> SymbolRules:
        return self.rules.get(symbol.upper(), self.fallback_rules)

    @classmethod
    def from_settings(cls) -> BrokerConfig:
        from core.settings import get_settings

        settings = get_settings()
        return cls(fee_rate=settings.fee_rate, slippage_bps=settings.slippage_bps)


class Bar(BaseModel):
    """One OHLC bar in exact decimals. Candles are float64; build from them with `from_floats`."""

    model_config = ConfigDict(frozen=True)

    open: Decimal = Field(gt=0)
    high: Decimal = Field(gt=0)
    low: Decimal = Field(gt=0)
    close: Decimal = Field(gt=0)
    open_time: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Bar:
        if self.high < max(self.open, self.close, self.low):
            raise ValueError("high: below open/close/low")
        if self.low > min(self.open, self.close):
            raise ValueError("low: above open/close")
        return self

    @classmethod
    def from_floats(
        cls, open: float, high: float, low: float, close: float, open_time: datetime | None = None
    ) -> Bar:
        # repr() is the shortest round-tripping decimal: 0.1 → "0.1", not 0.1000000000000000055…
        return cls(
            open=Decimal(repr(float(open))),
            high=Decimal(repr(float(high))),
            low=Decimal(repr(float(low))),
            close=Decimal(repr(float(close))),
            open_time=open_time,
        )


class ExitSignal(BaseModel):
    """A protective level was hit; sell the position at `price` (before slippage)."""

    model_config = ConfigDict(frozen=True)

    reason: Literal["stop_loss", "take_profit"]
    price: Decimal = Field(description="reference price of the exit market order")
    gapped: bool = Field(description="the bar opened beyond the level: filled at the open")


def _require_decimal(field: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{field}: must be Decimal (got {type(value).__name__})")
    dec = Decimal(value)
    if not dec.is_finite():
        raise ValueError(f"{field}: must be finite")
    return dec


class SimulatedBroker:
    def __init__(self, config: BrokerConfig | None = None) -> None:
        self.config = config or BrokerConfig()

    def rules_for(self, symbol: str) -> SymbolRules:
        return self.config.rules_for(symbol)

    def round_quantity(self, symbol: str, quantity: Decimal) -> Decimal:
        """Round DOWN to a whole number of steps."""
        step = self.rules_for(symbol).step_size
        return (quantity / step).to_integral_value(rounding=ROUND_DOWN) * step

    def fill_price(self, symbol: str, side: Side, reference_price: Decimal) -> Decimal:
        """The reference price moved against the taker by the slippage, on the tick grid."""
        tick = self.rules_for(symbol).tick_size
        slip = self.config.slippage_bps / BPS
        if side == "buy":
            raw = reference_price * (1 + slip)
            return (raw / tick).to_integral_value(rounding=ROUND_UP) * tick
        raw = reference_price * (1 - slip)
        return (raw / tick).to_integral_value(rounding=ROUND_DOWN) * tick

    def fee_for(self, notional: Decimal) -> Decimal:
        return (notional * self.config.fee_rate).quantize(FEE_QUANTUM, rounding=ROUND_UP)

    def size_buy(self, quote_budget: Decimal, reference_price: Decimal, *, symbol: str) -> Decimal:
        """Largest step-rounded quantity whose notional plus fee fits in `quote_budget`.

        Returns 0 when not even one step fits; `market_fill` then rejects the order.
        """
        budget = _require_decimal("quote_budget", quote_budget)
        reference = _require_decimal("reference_price", reference_price)
        if budget < 0:
            raise ValueError("quote_budget: must not be negative")
        if reference <= 0:
            raise ValueError("reference_price: must be positive")
        price = self.fill_price(symbol, "buy", reference)
        quantity = self.round_quantity(symbol, budget / (price * (1 + self.config.fee_rate)))
        step = self.rules_for(symbol).step_size
        # The fee is rounded up, so the division's answer can overshoot by a hair.
        while quantity > 0 and quantity * price + self.fee_for(quantity * price) > budget:
            quantity -= step
        return max(quantity, Decimal(0))

    def market_fill(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        reference_price: Decimal,
        *,
        at: datetime,
        client_order_id: str,
        reason: FillReason = "signal",
        closes_position: bool = False,
    ) -> Fill:
        """Fill a market order completely at the slipped reference price (no partial fills)."""
        qty = _require_decimal("quantity", quantity)
        reference = _require_decimal("reference_price", reference_price)
        if reference <= 0:
            raise OrderRejected("reference_price", "must be positive")
        if qty <= 0:
            raise OrderRejected("quantity", "must be positive")
        rounded = self.round_quantity(symbol, qty)
        rules = self.rules_for(symbol)
        if rounded <= 0:
            raise OrderRejected(
                "quantity", f"{qty} is below one step ({rules.step_size}) of {symbol}"
            )
        price = self.fill_price(symbol, side, reference)
        notional = rounded * price
        exempt = side == "sell" and closes_position
        if notional < rules.min_notional and not exempt:
            raise OrderRejected(
                "quantity",
                f"notional {notional} is below the minimum {rules.min_notional} for {symbol}",
            )
        return Fill(
            symbol=symbol,
            side=side,
            quantity=rounded,
            price=price,
            fee=self.fee_for(notional),
            slippage_bps=self.config.slippage_bps,
            reason=reason,
            executed_at=at,
            client_order_id=client_order_id,
        )

    @staticmethod
    def check_exit(
        stop_loss: Decimal | None, take_profit: Decimal | None, bar: Bar
    ) -> ExitSignal | None:
        """Did this bar hit the stop or the take-profit of a long position? (See module doc.)"""
        if stop_loss is not None and bar.open <= stop_loss:
            return ExitSignal(reason="stop_loss", price=bar.open, gapped=True)
        if take_profit is not None and bar.open >= take_profit:
            return ExitSignal(reason="take_profit", price=bar.open, gapped=True)
        if stop_loss is not None and bar.low <= stop_loss:
            return ExitSignal(reason="stop_loss", price=stop_loss, gapped=False)
        if take_profit is not None and bar.high >= take_profit:
            return ExitSignal(reason="take_profit", price=take_profit, gapped=False)
        return None

    def exit_fill(
        self,
        signal: ExitSignal,
        symbol: str,
        quantity: Decimal,
        *,
        at: datetime,
        client_order_id: str,
    ) -> Fill:
        """Sell the whole position as a market order at the exit's reference price."""
        return self.market_fill(
            symbol,
            "sell",
            quantity,
            signal.price,
            at=at,
            client_order_id=client_order_id,
            reason=signal.reason,
            closes_position=True,
        )
