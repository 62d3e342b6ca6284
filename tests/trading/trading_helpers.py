"""Shared by the trading tests: random order sequences and the in-memory reference account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from tools.broker import OrderRejected, SimulatedBroker
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import (
    PortfolioMathError,
    PortfolioState,
    apply_fill,
    order_fill,
    resolve_order_quantity,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
T0 = datetime(2024, 1, 1, tzinfo=UTC)

# Prices on each symbol's tick grid, spanning a few orders of magnitude.
_prices = {
    "BTCUSDT": st.integers(1_000_000, 12_000_000).map(lambda c: Decimal(c).scaleb(-2)),
    "ETHUSDT": st.integers(50_000, 500_000).map(lambda c: Decimal(c).scaleb(-2)),
    "SOLUSDT": st.integers(50_000_000, 3_000_000_000).map(lambda c: Decimal(c).scaleb(-7)),
}
_pct = st.integers(1, 100).map(Decimal)
_fraction = st.integers(1, 100).map(lambda n: Decimal(n) / 100)


@st.composite
def order_and_price(draw: st.DrawFn) -> tuple[OrderRequest, Decimal]:
    symbol = draw(st.sampled_from(SYMBOLS))
    price = draw(_prices[symbol])
    if draw(st.booleans()):
        order = OrderRequest(symbol=symbol, side="buy", size_pct_equity=draw(_pct))
    else:
        order = OrderRequest(symbol=symbol, side="sell", sell_fraction=draw(_fraction))
    return order, price


def order_sequences(max_size: int) -> st.SearchStrategy[list[tuple[OrderRequest, Decimal]]]:
    return st.lists(order_and_price(), min_size=1, max_size=max_size)


def simulate(
    starting_cash: Decimal,
    orders: Sequence[tuple[OrderRequest, Decimal]],
    broker: SimulatedBroker,
) -> tuple[PortfolioState, list[Fill]]:
    """The in-memory account: refused orders (rejected, nothing held…) change nothing."""
    state = PortfolioState.start(starting_cash)
    fills: list[Fill] = []
    for i, (order, price) in enumerate(orders):
        try:
            quantity = resolve_order_quantity(state, order, price, broker)
            at = T0 + timedelta(minutes=i)
            fill = order_fill(
                state, order, quantity, price, broker, at=at, client_order_id=f"seq:{i}"
            )
            state = apply_fill(state, fill)
        except (OrderRejected, PortfolioMathError):
            continue
        fills.append(fill)
    return state, fills
