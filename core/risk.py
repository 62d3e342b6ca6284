"""Per-portfolio risk limits. Enforced in code: a model can only ever tighten them.

Stored as JSON in `portfolios.risk`; validated here on every read.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RiskLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_position_pct: float = Field(
        default=10.0, gt=0, le=100, description="largest single position, % of equity"
    )
    max_total_exposure_pct: float = Field(
        default=50.0, gt=0, le=100, description="all positions together, % of equity"
    )
    max_stop_distance_pct: float = Field(
        default=5.0, gt=0, le=50, description="stop-loss at most this far below entry, %"
    )
    max_daily_loss_pct: float = Field(
        default=3.0, gt=0, le=100, description="circuit breaker: loss since UTC midnight, %"
    )
    max_drawdown_pct: float = Field(
        default=15.0, gt=0, le=100, description="circuit breaker: drop from peak equity, %"
    )
    min_cash_reserve_pct: float = Field(
        default=20.0, ge=0, lt=100, description="cash that must stay uninvested, % of equity"
    )
    max_data_age_bars: int = Field(
        default=2, ge=1, description="refuse to trade when the latest bar is older than this"
    )
