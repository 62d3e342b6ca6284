"""Load what a backtest walks over: candles (range plus warm-up) and indicators, computed once.

Candles come through `tools.history.ensure_history` (store, resampled, fetched, or synthetic
when asked; one source, labelled; a range real data does not cover is refused or clipped);
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
    """binance | store | store-resampled | synthetic: where every price of this run came from."""
    params: BacktestParams
    """The range actually served: later start / earlier end than asked only with a note."""

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
        params=params,
    )
    traded_range(data.market, params)  # fail now, naming the field, not mid-run
    return data


def load_backtest_data(
    params: BacktestParams, *, engine: Engine | None = None, settings: Settings | None = None
) -> BacktestData:
    """Candles for `params` (range + warm-up) and their indicators, from one source.

    A range real data does not fully cover raises `CoverageError` (a ValueError naming the
    missing part) unless `params.clip`; a clipped range or a start moved past the warm-up is
    served with `data.params` adjusted and the reason in `data.params.data_notes`."""
    from core.settings import get_settings
    from persistence.candles import SqlCandleStore
    from persistence.db import get_engine
    from tools.history import ensure_history

    settings = settings or get_settings()
    now = datetime.now(UTC)
    if params.start >= now:
        raise NoDataError(f"from: {params.start:%Y-%m-%d} is in the future; no candles exist yet")
    # A range reaching into the future is cut at the last closed bar.
    step = interval_ms(params.interval)
    forming = datetime.fromtimestamp(int(now.timestamp() * 1000) // step * step / 1000, tz=UTC)
    end = min(params.end, forming)
    history = ensure_history(
        params.symbol,
        params.interval,
        params.start,
        end,
        warmup_bars=params.warmup_bars,
        store=SqlCandleStore(engine or get_engine(settings.database_url)),
        settings=settings,
        synthetic=params.synthetic,
        clip=params.clip,
    )
    series = history.series
    if series.frame.empty:
        raise NoDataError(
            f"range: no {params.symbol} {params.interval} candles for "
            f"{params.start:%Y-%m-%d} → {params.end:%Y-%m-%d}"
        )
    notes = [n for n in history.notes if n not in params.data_notes]
    served = params
    if history.start != params.start or history.end < end or notes:
        served = params.model_copy(
            update={
                "start": history.start,
                "end": history.end if history.end < end else params.end,
                "data_notes": [*params.data_notes, *notes],
            }
        )
    return prepare_data(series.frame, served, source=series.source)
