"""Load what a backtest walks over: candles (range plus warm-up) and indicators, computed once.

Candles come through `tools.market_data.ensure_history` (store, fetched or synthetic, labelled);
indicators through `tools.indicators.compute_indicators` over the whole loaded series — every
indicator at bar t reads only bars ≤ t, so computing them once leaks nothing from the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from graph.backtest.engine import MarketArrays, traded_range
from graph.backtest.schemas import BacktestParams
from tools.indicators import IndicatorTable, compute_indicators
from tools.intervals import interval_ms

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from core.settings import Settings


class NoDataError(ValueError):
    """The requested range has no candles and none can be obtained."""


@dataclass(frozen=True)
class BacktestData:
    frame: pd.DataFrame
    """Candles with indicator columns; UTC open-time index; warm-up bars first."""
    market: MarketArrays
    snapshots: IndicatorTable
    source: str

    @property
    def close(self) -> pd.Series:
        return self.frame["close"]

    @property
    def open(self) -> pd.Series:
        return self.frame["open"]


def prepare_data(frame: pd.DataFrame, params: BacktestParams, *, source: str) -> BacktestData:
    """Indicators over the whole frame, then the per-bar arrays the engine indexes."""
    ind = compute_indicators(frame, params.interval)
    data = BacktestData(
        frame=ind,
        market=MarketArrays.from_frame(ind),
        snapshots=IndicatorTable(
            ind, symbol=params.symbol, interval=params.interval, source=source
        ),
        source=source,
    )
    traded_range(data.market, params)  # fail now, naming the field, not mid-run
    return data


def load_backtest_data(
    params: BacktestParams, *, engine: Engine | None = None, settings: Settings | None = None
) -> BacktestData:
    from tools.market_data import ensure_history

    now = datetime.now(UTC)
    if params.start >= now:
        raise NoDataError(f"from: {params.start:%Y-%m-%d} is in the future; no candles exist yet")
    # A range reaching into the future is cut at the last closed bar.
    step = interval_ms(params.interval)
    latest_closed = datetime.fromtimestamp(
        (int(now.timestamp() * 1000) // step - 1) * step / 1000, tz=UTC
    )
    end = min(params.end, latest_closed)
    series = ensure_history(
        params.symbol,
        params.interval,
        params.start,
        end,
        warmup_bars=params.warmup_bars,
        engine=engine,
        settings=settings,
    )
    if series.frame.empty:
        raise NoDataError(
            f"range: no {params.symbol} {params.interval} candles for "
            f"{params.start:%Y-%m-%d} → {params.end:%Y-%m-%d} and none could be fetched"
        )
    return prepare_data(series.frame, params, source=series.source)
