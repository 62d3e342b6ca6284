"""Market data: stored symbols, candles with indicator columns (and their source), sources."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import EngineDep, SettingsDep
from api.errors import UnprocessableError, error_responses
from tools.candle_store import StoredSeries, list_series
from tools.importers import normalise_symbol
from tools.indicators import INDICATOR_COLUMNS, MIN_HISTORY_BARS, compute_indicators
from tools.intervals import INTERVAL_MS
from tools.market_data import load_candles

router = APIRouter(prefix="/market", tags=["market"])

IntervalQuery = Annotated[
    str, Query(description=f"one of {', '.join(INTERVAL_MS)}", examples=["1h"], max_length=4)
]


class CandleRow(BaseModel):
    time: datetime = Field(description="candle open time, UTC")
    open: float
    high: float
    low: float
    close: float
    volume: float
    indicators: dict[str, float | None] = Field(description="null during indicator warm-up")


class CandlesOut(BaseModel):
    symbol: str
    interval: str
    source: str = Field(description="binance | store | synthetic: where these candles came from")
    indicator_columns: list[str]
    candles: list[CandleRow]


class SourceStatus(BaseModel):
    mode: str = Field(description="settings.data_source: live | store | synthetic")
    chain: list[str] = Field(description="sources tried in order")
    binance_base_url: str
    llm_provider: str
    stored: list[StoredSeries]


def check_symbol(symbol: str, field: str = "symbol") -> str:
    try:
        return normalise_symbol(symbol)
    except ValueError as exc:
        raise UnprocessableError(field, str(exc)) from None


def check_interval(interval: str, field: str = "interval") -> str:
    if interval not in INTERVAL_MS:
        raise UnprocessableError(
            field, f"unknown interval {interval!r}; one of {list(INTERVAL_MS)}"
        )
    return interval


@router.get("/symbols", response_model=list[StoredSeries])
async def symbols(engine: EngineDep) -> list[StoredSeries]:
    return await asyncio.to_thread(list_series, engine)


@router.get("/candles", response_model=CandlesOut, responses=error_responses(422))
async def candles(
    engine: EngineDep,
    settings: SettingsDep,
    symbol: Annotated[str, Query(max_length=20, examples=["BTCUSDT"])],
    interval: IntervalQuery = "1h",
    limit: Annotated[int, Query(ge=1, le=2000)] = 300,
    end: Annotated[
        datetime | None,
        Query(description="only bars that open before this time (UTC if naive): a past window"),
    ] = None,
) -> CandlesOut:
    symbol = check_symbol(symbol)
    interval = check_interval(interval)
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=UTC)

    def load() -> CandlesOut:
        # Load extra bars so the indicators are warmed up on the first bar returned.
        series = load_candles(
            symbol,
            interval,
            end=end,
            limit=limit + MIN_HISTORY_BARS,
            engine=engine,
            settings=settings,
        )
        frame = compute_indicators(series.frame, interval).tail(limit)
        rows = [
            CandleRow(
                time=ts.to_pydatetime(),
                open=rec["open"],
                high=rec["high"],
                low=rec["low"],
                close=rec["close"],
                volume=rec["volume"],
                indicators={
                    c: (None if not math.isfinite(rec[c]) else float(rec[c]))
                    for c in INDICATOR_COLUMNS
                },
            )
            for ts, rec in zip(frame.index, frame.to_dict("records"), strict=True)
        ]
        return CandlesOut(
            symbol=symbol,
            interval=interval,
            source=series.source,
            indicator_columns=list(INDICATOR_COLUMNS),
            candles=rows,
        )

    return await asyncio.to_thread(load)


@router.get("/source-status", response_model=SourceStatus)
async def source_status(engine: EngineDep, settings: SettingsDep) -> SourceStatus:
    chain = {
        "live": ["binance", "store", "synthetic"],
        "store": ["store", "synthetic"],
        "synthetic": ["synthetic"],
    }[settings.data_source.value]
    return SourceStatus(
        mode=settings.data_source.value,
        chain=chain,
        binance_base_url=settings.binance_base_url,
        llm_provider=settings.llm_provider.value,
        stored=await asyncio.to_thread(list_series, engine),
    )
