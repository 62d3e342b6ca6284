"""The in-memory account of a backtest: one symbol, spot, long-only.

Fills come from `tools.broker.SimulatedBroker` and are folded with
`tools.portfolio_math.apply_fill` — the same maths as the persistent ledger. The account adds
only what a backtest report needs on top: the fill log, closed round trips (with the entry fees
allocated to them) and float mirrors of cash/quantity so marking equity on every bar is cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graph.backtest.schemas import AccountView, FillRecord
from tools.broker import Bar, OrderRejected, SimulatedBroker
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import (
    PortfolioMathError,
    PortfolioState,
    apply_fill,
    order_fill,
    resolve_order_quantity,
)

ZERO = Decimal(0)
# A float pre-filter skips the exact Decimal exit check on bars far from both levels; the
# margin keeps float rounding from ever hiding a hit (the exact check decides near the levels).
_NEAR = 1e-9


class BacktestAccount:
    def __init__(self, symbol: str, starting_cash: Decimal, broker: SimulatedBroker) -> None:
        self.symbol = symbol
        self.broker = broker
        self.state = PortfolioState.start(starting_cash)
        self.fills: list[FillRecord] = []
        self.closed_trades: list[dict[str, Any]] = []
        self.rejections = 0
        self._entry_fees = ZERO  # fees of the open position's buys, not yet allocated to a trade
        self._entry_time: datetime | None = None
        self._sync_floats()

    # --- valuation ---------------------------------------------------------------------
    def _sync_floats(self) -> None:
        position = self.state.positions.get(self.symbol)
        self._cash = float(self.state.cash)
        self._qty = float(position.quantity) if position else 0.0
        self._stop = float(position.stop_loss) if position and position.stop_loss else None
        self._tp = float(position.take_profit) if position and position.take_profit else None

    @property
    def has_position(self) -> bool:
        return self._qty > 0

    def equity(self, close: float) -> float:
        return self._cash + self._qty * close

    def view(self, close: float, day_start_equity: float, peak_equity: float) -> AccountView:
        position = self.state.positions.get(self.symbol)
        value = self._qty * close
        equity = self._cash + value
        return AccountView(
            cash=self._cash,
            equity=equity,
            position_qty=self._qty,
            position_value=value,
            avg_entry_price=float(position.avg_entry_price) if position else None,
            stop_loss=self._stop,
            take_profit=self._tp,
            exposure_pct=100.0 * value / equity if equity > 0 else 0.0,
            day_start_equity=day_start_equity,
            peak_equity=peak_equity,
            starting_cash=float(self.state.starting_cash),
        )

    def _next_order_id(self) -> str:
        return f"bt:{len(self.fills) + self.rejections}"

    # --- orders ------------------------------------------------------------------------
    def execute(
        self, order: OrderRequest, reference_price: Decimal, *, at: datetime
    ) -> Fill | None:
        """Fill a market order at `reference_price` (the next bar's open). An order the broker
        or the account refuses (dust, nothing held, no cash) is counted, not raised: a model
        proposing an impossible trade is a decision that had no effect."""
        client_order_id = self._next_order_id()
        try:
            fill = self._fill_order(order, reference_price, at, client_order_id)
        except (OrderRejected, PortfolioMathError):
            self.rejections += 1
            return None
        if fill is None:
            self.rejections += 1
        return fill

    def _fill_order(
        self, order: OrderRequest, reference: Decimal, at: datetime, coid: str
    ) -> Fill | None:
        if order.symbol != self.symbol:
            raise PortfolioMathError("symbol", f"this backtest trades only {self.symbol}")
        quantity = resolve_order_quantity(self.state, order, reference, self.broker)
        if quantity <= 0:  # a buy whose budget is below one step
            return None
        fill = order_fill(
            self.state, order, quantity, reference, self.broker, at=at, client_order_id=coid
        )
        if order.side == "buy":
            self._open_part(fill, order.stop_loss, order.take_profit)
        else:
            self._close_part(fill)
        return fill

    def check_exits(
        self, open_: float, high: float, low: float, close: float, *, at_ms: int
    ) -> Fill | None:
        """Sell the whole position when this bar hits its stop or take-profit."""
        stop, tp = self._stop, self._tp
        near_stop = stop is not None and low <= stop * (1 + _NEAR)
        near_tp = tp is not None and high >= tp * (1 - _NEAR)
        if not (near_stop or near_tp):
            return None
        position = self.state.positions[self.symbol]
        at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
        signal = self.broker.check_exit(
            position.stop_loss, position.take_profit, Bar.from_floats(open_, high, low, close, at)
        )
        if signal is None:
            return None
        fill = self.broker.exit_fill(
            signal, self.symbol, position.quantity, at=at, client_order_id=self._next_order_id()
        )
        self._close_part(fill)
        return fill

    # --- bookkeeping -------------------------------------------------------------------
    def _open_part(self, fill: Fill, stop: Decimal | None, tp: Decimal | None) -> None:
        self.state = apply_fill(self.state, fill, stop_loss=stop, take_profit=tp)
        self._entry_fees += fill.fee
        if self._entry_time is None:
            self._entry_time = fill.executed_at
        self._record(fill, stop, tp)

    def _close_part(self, fill: Fill) -> None:
        position = self.state.positions[self.symbol]
        share = fill.quantity / position.quantity
        entry_price = position.avg_entry_price
        entry_fees = self._entry_fees * share if share < 1 else self._entry_fees
        self.state = apply_fill(self.state, fill)
        self._entry_fees -= entry_fees
        fees = entry_fees + fill.fee
        cost = entry_price * fill.quantity
        pnl = (fill.price - entry_price) * fill.quantity - fees
        self.closed_trades.append(
            {
                "symbol": self.symbol,
                "entry_time": (self._entry_time or fill.executed_at).isoformat(),
                "exit_time": fill.executed_at.isoformat(),
                "entry_price": float(entry_price),
                "exit_price": float(fill.price),
                "quantity": float(fill.quantity),
                "pnl": float(pnl),
                "fees": float(fees),
                "return_pct": float(pnl / (cost + entry_fees) * 100) if cost > 0 else 0.0,
                "exit_reason": fill.reason,
            }
        )
        if self.symbol not in self.state.positions:
            self._entry_fees = ZERO
            self._entry_time = None
        self._record(fill, None, None)

    def _record(self, fill: Fill, stop: Decimal | None, tp: Decimal | None) -> None:
        self.fills.append(
            FillRecord(
                at=fill.executed_at,
                side=fill.side,
                quantity=fill.quantity,
                price=fill.price,
                fee=fill.fee,
                reason=fill.reason,
                stop_loss=stop,
                take_profit=tp,
            )
        )
        self._sync_floats()

    # --- checkpoint --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "state": self.state.model_dump(mode="json"),
            "fills": [f.model_dump(mode="json") for f in self.fills],
            "closed_trades": self.closed_trades,
            "rejections": self.rejections,
            "entry_fees": str(self._entry_fees),
            "entry_time": self._entry_time.isoformat() if self._entry_time else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], broker: SimulatedBroker) -> BacktestAccount:
        state = PortfolioState.model_validate(data["state"])
        account = cls(data["symbol"], state.starting_cash, broker)
        account.state = state
        account.fills = [FillRecord.model_validate(f) for f in data["fills"]]
        account.closed_trades = list(data["closed_trades"])
        account.rejections = int(data["rejections"])
        account._entry_fees = Decimal(data["entry_fees"])
        entry_time = data.get("entry_time")
        account._entry_time = datetime.fromisoformat(entry_time) if entry_time else None
        account._sync_floats()
        return account
