"""Orders and fills exchanged between the desk and the simulated broker / ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

Side = Literal["buy", "sell"]
FillReason = Literal["signal", "stop_loss", "take_profit", "manual"]


class OrderRequest(BaseModel):
    """A market order. Buys are sized as a % of equity (resolved under the ledger's lock so
    concurrent runs cannot overspend); sells as a fraction of the held quantity, or an
    explicit quantity."""

    symbol: str
    side: Side
    size_pct_equity: Decimal | None = Field(default=None, gt=0, le=100)
    sell_fraction: Decimal | None = Field(default=None, gt=0, le=1)
    quantity: Decimal | None = Field(default=None, gt=0)
    stop_loss: Decimal | None = Field(default=None, gt=0)
    take_profit: Decimal | None = Field(default=None, gt=0)
    reason: FillReason = "signal"


class Fill(BaseModel):
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal = Field(description="after slippage")
    fee: Decimal
    slippage_bps: Decimal
    reason: FillReason
    executed_at: datetime
    client_order_id: str
    trade_id: int | None = None
    adjustments: list[str] = Field(
        default_factory=list,
        description="how the ledger changed the order to fit the risk limits (not stored)",
    )
