"""Market data: stored symbols, candles with indicator columns (and their source, freshness),
the source status. Candles the store cannot serve are a 422 naming what is missing and how
to get it — never synthetic stand-ins (unless DATA_SOURCE=synthetic asks for them)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, WithJsonSchema

from api.deps import EngineDep, SettingsDep
from api.errors import UnprocessableError, error_responses
from core.bounds import Interval, RangeEnd, Symbol
from core.settings import DataSourceMode
from persistence.candles import SqlCandleStore, list_series
from tools.candle_store import StoredSeries
from tools.indicators import INDICATOR_COLUMNS, MIN_HISTORY_BARS, compute_indicators
from tools.intervals import interval_ms
from tools.market_data import MissingDataError, load_candles
from tools.provenance import market_kind

router = APIRouter(prefix="/market", tags=["market"])


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
    source: str = Field(
        description="binance | store | store-resampled | synthetic: where these candles came from"
    )
    market: str = Field(description="real | synthetic: synthetic candles are not market prices")
    derived_from: str | None = Field(
        default=None, description="the stored interval store-resampled candles were built from"
    )
    last_bar: datetime | None = Field(description="open time of the newest candle, UTC")
    last_bar_close: datetime | None = Field(description="when the newest candle closed, UTC")
    generated_at: datetime = Field(description="server time of this answer (age = now − close)")
    indicator_columns: list[str]
    candles: list[CandleRow]


class StoredSeriesStatus(StoredSeries):
    market: str = Field(description="real | synthetic")
    age_seconds: float = Field(description="seconds since the newest stored candle closed")


class SourceStatus(BaseModel):
    mode: str = Field(description="settings.data_source: live | store | synthetic")
    chain: list[str] = Field(
        description="sources used in order; never falls back to synthetic unless mode is synthetic"
    )
    binance_base_url: str
    llm_provider: str
    generated_at: datetime
    stored: list[StoredSeriesStatus]


@router.get("/symbols", response_model=list[StoredSeries])
async def symbols(engine: EngineDep) -> list[StoredSeries]:
    return await asyncio.to_thread(list_series, engine)


@router.get("/candles", response_model=CandlesOut, responses=error_responses(422))
async def candles(
    engine: EngineDep,
    settings: SettingsDep,
    symbol: Annotated[Symbol, Query(examples=["BTCUSDT"])],
    interval: Annotated[Interval, Query(examples=["1h"])] = "1h",
    limit: Annotated[int, Query(ge=1, le=2000)] = 300,
    end: Annotated[
        RangeEnd | None,
        Query(description="only bars that open before this time (UTC if naive): a past window"),
        # Documented without `null`: a query string cannot send one.
        WithJsonSchema({"type": "string", "format": "date-time"}),
    ] = None,
) -> CandlesOut:
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    # A GET never calls out nor writes: live mode reads what the store holds (POST /fetch fills it).
    read_only = settings.model_copy(update={"data_source": DataSourceMode.store})
    if settings.data_source is DataSourceMode.synthetic:
        read_only = settings

    def load() -> CandlesOut:
        # Load extra bars so the indicators are warmed up on the first bar returned.
        series = load_candles(
            symbol,
            interval,
            end=end,
            limit=limit + MIN_HISTORY_BARS,
            store=SqlCandleStore(engine),
            settings=read_only,
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
        last = rows[-1].time if rows else None
        return CandlesOut(
            symbol=symbol,
            interval=interval,
            source=series.source,
            market=market_kind(series.source),
            derived_from=series.derived_from,
            last_bar=last,
            last_bar_close=(
                datetime.fromtimestamp(last.timestamp() + interval_ms(interval) / 1000, tz=UTC)
                if last is not None
                else None
            ),
            generated_at=datetime.now(UTC),
            indicator_columns=list(INDICATOR_COLUMNS),
            candles=rows,
        )

    try:
        return await asyncio.to_thread(load)
    except MissingDataError as exc:
        raise UnprocessableError("symbol", str(exc)) from None


def _status(item: StoredSeries, now: datetime) -> StoredSeriesStatus:
    closed = item.last.timestamp() + interval_ms(item.interval) / 1000
    synthetic = any(market_kind(s) == "synthetic" for s in item.sources)
    return StoredSeriesStatus(
        **item.model_dump(),
        market="synthetic" if synthetic else "real",
        age_seconds=max(0.0, now.timestamp() - closed),
    )


@router.get("/source-status", response_model=SourceStatus)
async def source_status(engine: EngineDep, settings: SettingsDep) -> SourceStatus:
    chain = {
        "live": ["binance", "store", "store-resampled"],
        "store": ["store", "store-resampled"],
        "synthetic": ["synthetic"],
    }[settings.data_source.value]
    stored = await asyncio.to_thread(list_series, engine)
    now = datetime.now(UTC)
    return SourceStatus(
        mode=settings.data_source.value,
        chain=chain,
        binance_base_url=settings.binance_base_url,
        llm_provider=settings.llm_provider.value,
        generated_at=now,
        stored=[_status(item, now) for item in stored],
    )
