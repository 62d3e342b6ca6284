"""Backtest test helpers: candle frames built from tables, a stand-in snapshot source and a
scripted decider, so the engine is tested without computing indicators or running the graph."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd

from graph.backtest.schemas import AccountView, DeciderOutput
from tools.indicators import SNAPSHOT_INDICATOR_COLUMNS
from tools.orders import OrderRequest
from tools.snapshot import IndicatorSnapshot, RecentHistory

T0 = datetime(2023, 1, 1, tzinfo=UTC)


def frame_from_bars(
    bars: Sequence[tuple[float, float, float, float]], *, warmup: int = 200, flat: float = 100.0
) -> pd.DataFrame:
    """`warmup` flat bars at `flat`, then `bars` (open, high, low, close), hourly, range at T0."""
    rows = [(flat, flat, flat, flat)] * warmup + list(bars)
    index = pd.DatetimeIndex(
        [T0 + timedelta(hours=i - warmup) for i in range(len(rows))], name="open_time"
    )
    frame = pd.DataFrame(rows, index=index, columns=["open", "high", "low", "close"])
    frame["volume"] = 1.0
    return frame


class CloseOnlySnapshots:
    """Snapshot with the bar's OHLC and zeros elsewhere — enough for scripted deciders."""

    def __init__(self, frame: pd.DataFrame, symbol: str = "BTCUSDT") -> None:
        self.frame = frame
        self.symbol = symbol
        self.calls: list[int] = []

    def snapshot(self, at: int) -> IndicatorSnapshot:
        self.calls.append(at)
        row = self.frame.iloc[at]
        zeros = dict.fromkeys(SNAPSHOT_INDICATOR_COLUMNS, 0.0)
        history = RecentHistory(
            return_1_bar=0.0,
            return_24_bars=0.0,
            return_72_bars=0.0,
            high_24_bars=0.0,
            low_24_bars=0.0,
            high_72_bars=0.0,
            low_72_bars=0.0,
            closes_last_12=[],
            ema20_slope_5_bars=0.0,
            bars_above_ema200_of_last_50=0,
        )
        return IndicatorSnapshot(
            symbol=self.symbol,
            interval="1h",
            as_of=self.frame.index[at].to_pydatetime(),
            bars_of_history=at + 1,
            source="test",
            open=float(row["open"]),
            high=float(row["high"]),
            low=float(row["low"]),
            close=float(row["close"]),
            volume=float(row["volume"]),
            history=history,
            **zeros,
        )


def buy(pct: float, stop: str | None = None, tp: str | None = None) -> DeciderOutput:
    from decimal import Decimal

    return DeciderOutput(
        action="buy",
        size_pct=pct,
        order=OrderRequest(
            symbol="BTCUSDT",
            side="buy",
            size_pct_equity=Decimal(str(pct)),
            stop_loss=Decimal(stop) if stop else None,
            take_profit=Decimal(tp) if tp else None,
        ),
    )


def sell(fraction: str = "1") -> DeciderOutput:
    from decimal import Decimal

    return DeciderOutput(
        action="sell",
        size_pct=0.0,
        order=OrderRequest(symbol="BTCUSDT", side="sell", sell_fraction=Decimal(fraction)),
    )


HOLD = DeciderOutput(action="hold")


class ScriptedDecider:
    """Answers by decision number; `hold` once the script runs out."""

    def __init__(self, script: Sequence[DeciderOutput], *, fail_at: int | None = None) -> None:
        self.script = list(script)
        self.fail_at = fail_at
        self.seen: list[tuple[datetime, AccountView]] = []

    def decide(self, snapshot: IndicatorSnapshot, account: AccountView) -> DeciderOutput:
        n = len(self.seen)
        if self.fail_at is not None and n == self.fail_at:
            raise RuntimeError(f"simulated crash at decision {n}")
        self.seen.append((snapshot.as_of, account))
        return self.script[n] if n < len(self.script) else HOLD


def random_walk_frame(n: int, *, warmup: int = 200, seed: int = 7) -> pd.DataFrame:
    """`n` hourly bars of a seeded random walk, the traded range starting at T0 after `warmup`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.006, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.003, n)) * close
    index = pd.DatetimeIndex([T0 + timedelta(hours=i - warmup) for i in range(n)], name="open_time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.uniform(10, 100, n),
        },
        index=index,
    )


class RsiDecider:
    """A deterministic indicator-driven decider (no graph): buy oversold, sell overbought."""

    def __init__(self, *, fail_at: int | None = None, on_call=None) -> None:  # type: ignore[no-untyped-def]
        self.calls = 0
        self.fail_at = fail_at
        self.on_call = on_call

    def decide(self, snapshot: IndicatorSnapshot, account: AccountView) -> DeciderOutput:
        from decimal import Decimal

        if self.fail_at is not None and self.calls == self.fail_at:
            raise RuntimeError(f"simulated crash at decision {self.calls}")
        if self.on_call is not None:
            self.on_call(self.calls)
        self.calls += 1
        if snapshot.rsi_14 < 40 and account.position_qty == 0:
            stop = Decimal(str(round(snapshot.close * 0.97, 2)))
            take = Decimal(str(round(snapshot.close * 1.05, 2)))
            return buy(25, stop=str(stop), tp=str(take))
        if snapshot.rsi_14 > 60 and account.position_qty > 0:
            return sell()
        return HOLD
