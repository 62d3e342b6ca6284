"""The candles a session walks over, per symbol, with the indicator snapshots of every bar.

A replay loads each symbol exactly as a backtest of the same range loads it
(`graph.backtest.data.load_backtest_data`: the same warm-up, the same indicator frame), so a
single-symbol session and the backtest of the same bars see identical snapshots. A live
session reloads the newest stored window (`LIVE_WINDOW` bars) after each new candle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from core.settings import Settings
from graph.backtest.data import BacktestData, load_backtest_data, prepare_data
from graph.backtest.engine import MarketArrays
from graph.backtest.schemas import BacktestParams
from persistence.candles import SqlCandleStore
from sessions.schemas import SessionSpec
from tools.errors import FieldValueError
from tools.indicators import MIN_HISTORY_BARS, IndicatorTable
from tools.intervals import interval_ms
from tools.market_data import read_store
from tools.snapshot import IndicatorSnapshot

WARMUP_BARS = MIN_HISTORY_BARS
LIVE_WINDOW = 500
"""Bars of history a live session's indicators are computed over (EMA200 settles)."""


@dataclass
class SymbolData:
    """One symbol's candles and snapshots; `pos` maps a bar's open time (ms) to its index."""

    symbol: str
    market: MarketArrays
    snapshots: IndicatorTable
    source: str
    pos: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, symbol: str, data: BacktestData) -> SymbolData:
        market = data.market
        return cls(
            symbol=symbol,
            market=market,
            snapshots=data.snapshots,
            source=data.source,
            pos={t: i for i, t in enumerate(market.times_ms)},
        )

    def has(self, bar_ms: int) -> bool:
        return bar_ms in self.pos

    def ohlc(self, bar_ms: int) -> tuple[float, float, float, float]:
        i = self.pos[bar_ms]
        m = self.market
        return m.open[i], m.high[i], m.low[i], m.close[i]

    def open_price(self, bar_ms: int) -> Decimal:
        """The reference price of a fill at this bar's open, exactly as a backtest takes it."""
        return Decimal(repr(self.market.open[self.pos[bar_ms]]))

    def close(self, bar_ms: int) -> float:
        return self.market.close[self.pos[bar_ms]]

    def snapshot(self, bar_ms: int) -> IndicatorSnapshot:
        return self.snapshots.snapshot(self.pos[bar_ms])


def backtest_params(spec: SessionSpec, symbol: str, end: datetime) -> BacktestParams:
    """The backtest of the same symbol, bars and costs as a replay session (parity)."""
    assert spec.replay_from is not None
    return BacktestParams(
        symbol=symbol,
        interval=spec.interval,
        start=spec.replay_from,
        end=end,
        every=spec.every,
        starting_cash=Decimal(str(spec.starting_cash or 10_000)),
        fee_rate=Decimal(str(spec.fee_rate)),
        slippage_bps=Decimal(str(spec.slippage_bps)),
        warmup_bars=WARMUP_BARS,
    )


def replay_end(engine: Engine, spec: SessionSpec) -> datetime:
    """The exclusive end of a replay: `until`, or just after the last stored bar that every
    symbol has (a replay never asks Binance for more)."""
    step = interval_ms(spec.interval)
    lasts = []
    for symbol in spec.symbols:
        read = read_store(SqlCandleStore(engine), symbol, spec.interval, limit=1)
        if read is None or read.frame.empty:
            raise FieldValueError("symbols", f"no stored {symbol} {spec.interval} candles")
        lasts.append(int(read.frame["open_time"].iloc[-1]))
    end = datetime.fromtimestamp((min(lasts) + step) / 1000, tz=UTC)
    return min(end, spec.until) if spec.until is not None else end


def load_replay(engine: Engine, spec: SessionSpec, settings: Settings) -> dict[str, SymbolData]:
    """Every symbol of a replay, loaded as its backtest would load it."""
    end = replay_end(engine, spec)
    out = {}
    for symbol in spec.symbols:
        params = backtest_params(spec, symbol, end)
        out[symbol] = SymbolData.of(
            symbol, load_backtest_data(params, engine=engine, settings=settings)
        )
    return out


def load_live(engine: Engine, spec: SessionSpec, symbol: str, end_ms: int) -> SymbolData:
    """The newest `LIVE_WINDOW` stored bars of `symbol` opening before `end_ms`."""
    import pandas as pd

    read = read_store(
        SqlCandleStore(engine), symbol, spec.interval, end_ms=end_ms, limit=LIVE_WINDOW
    )
    if read is None or len(read.frame) < WARMUP_BARS + 2:
        have = 0 if read is None else len(read.frame)
        raise FieldValueError(
            "symbols", f"{symbol} {spec.interval}: {have} stored bars, {WARMUP_BARS + 2} needed"
        )
    frame = read.frame.copy()
    frame.index = pd.to_datetime(frame.pop("open_time"), unit="ms", utc=True)
    step = interval_ms(spec.interval)
    first = frame.index[WARMUP_BARS].to_pydatetime()
    last = frame.index[-1].to_pydatetime()
    params = BacktestParams(
        symbol=symbol,
        interval=spec.interval,
        start=first,
        end=datetime.fromtimestamp(last.timestamp() + step / 1000, tz=UTC),
        warmup_bars=WARMUP_BARS,
    )
    return SymbolData.of(symbol, prepare_data(frame, params, source=read.source))
