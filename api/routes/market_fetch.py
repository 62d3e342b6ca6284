"""`POST /market/fetch`: the one route that calls Binance — fetch klines into the store,
idempotently, API-key guarded and rate limited. Every GET only reads what is stored."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from api.deps import ApiKeyDep, EngineDep, SettingsDep, limit_run_starts
from api.errors import ApiError, error_responses
from core.bounds import Interval, PastTime, Symbol, cross_field
from tools.intervals import interval_ms

router = APIRouter(prefix="/market", tags=["market"])

MAX_FETCH_BARS = 50_000
"""About five and a half years of 1h bars per request (50 Binance pages)."""


class FetchRequest(BaseModel):
    symbol: Symbol = Field(examples=["BTCUSDT"])
    interval: Interval = Field(default="1h", examples=["1h"])
    start: PastTime = Field(description="first open time, UTC (2009-01-03 … now)")
    end: PastTime | None = Field(default=None, description="exclusive end, UTC; default now")

    @model_validator(mode="after")
    def _window(self) -> FetchRequest:
        end = self.end or datetime.now(self.start.tzinfo)
        if self.start >= end:
            raise cross_field("end", "must be after start")
        bars = (end - self.start).total_seconds() * 1000 // interval_ms(self.interval)
        if bars > MAX_FETCH_BARS:
            raise cross_field(
                "end", f"window spans {int(bars)} {self.interval} bars; at most {MAX_FETCH_BARS}"
            )
        return self


class FetchReport(BaseModel):
    symbol: str
    interval: str
    rows_in: int = Field(description="candles Binance returned")
    rows_new: int = Field(description="candles written (the rest were already stored)")
    rejected: int = Field(description="candles refused by the OHLC checks")


class UpstreamUnavailableError(ApiError):
    status_code = 502


@router.post(
    "/fetch",
    response_model=FetchReport,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 422, 429, 502),
)
async def fetch_candles(
    body: FetchRequest, request: Request, engine: EngineDep, settings: SettingsDep
) -> FetchReport:
    limit_run_starts(request)  # an outside call: rate limited like a run start
    from persistence.candles import store_candles
    from tools.binance import BinanceError, BinanceKlinesClient
    from tools.candle_frame import datetime_to_ms, now_ms

    def fetch() -> FetchReport:
        client = BinanceKlinesClient.from_settings(settings)
        end_ms = datetime_to_ms(body.end) if body.end else now_ms()
        try:
            frame = client.fetch_klines(
                body.symbol, body.interval, datetime_to_ms(body.start), end_ms
            )
        except BinanceError as exc:
            raise UpstreamUnavailableError(f"binance: {exc}") from None
        finally:
            client.close()
        report = store_candles(
            engine, body.symbol, body.interval, frame, source="binance", overwrite="same_source"
        )
        return FetchReport(
            symbol=body.symbol,
            interval=body.interval,
            rows_in=report.rows_in,
            rows_new=report.rows_new,
            rejected=report.rejected,
        )

    return await asyncio.to_thread(fetch)
