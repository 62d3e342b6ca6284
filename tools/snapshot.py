"""What the agents see of the market: compact facts, never raw candle dumps.

`tools.indicators.make_snapshot` builds these from an indicator frame. The schema is shared by
the graph (prompts, rules engine) and the API, so fields are only ever added, never renamed.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RecentHistory(BaseModel):
    """A compact summary of the bars before the decision point."""

    return_1_bar: float = Field(description="simple return of the last bar")
    return_24_bars: float
    return_72_bars: float
    high_24_bars: float
    low_24_bars: float
    high_72_bars: float
    low_72_bars: float
    closes_last_12: list[float] = Field(description="the last 12 closes, oldest first")
    ema20_slope_5_bars: float = Field(description="relative change of EMA20 over 5 bars")
    bars_above_ema200_of_last_50: int


class IndicatorSnapshot(BaseModel):
    """Latest indicator values at the decision bar (inclusive) plus recent history."""

    symbol: str
    interval: str
    as_of: datetime = Field(description="open time of the decision bar, UTC")
    bars_of_history: int
    source: str = Field(description="binance | store | store-resampled | synthetic")
    open: float
    high: float
    low: float
    close: float
    volume: float
    rsi_14: float
    macd: float
    macd_signal: float
    macd_hist: float
    ema_20: float
    ema_50: float
    ema_200: float
    bb_upper: float
    bb_middle: float
    bb_lower: float
    atr_14: float
    volume_sma_20: float
    realized_vol_20: float = Field(description="std of log returns over 20 bars, annualised")
    history: RecentHistory
