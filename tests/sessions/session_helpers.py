"""Helpers of the trading-session tests: real candles in a store, settings, running a session
through the recorder as a job does, and the checks every session must pass (limits at every
fill and bar, one decision per symbol and bar, consecutive ticks, a clean event stream)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.risk import RiskLimits, new_breaches, stop_floor
from core.settings import Settings
from persistence import sessions as store
from persistence.ledger import account_figures
from persistence.models import RunEvent, Trade
from persistence.portfolios import get_portfolio
from tools.orders import Fill
from tools.portfolio_math import PortfolioState, apply_fill

REAL = "daisybum__cryptoTradingBot"
FILES = {"BTCUSDT": "BTC_USDT-1h.feather", "ETHUSDT": "ETH_USDT-1h.feather"}
HOUR_MS = 3_600_000


def import_real(
    engine: Engine, real_data_dir: Path, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
) -> None:
    from persistence.candles import SqlCandleStore
    from tools.importers import import_file

    for symbol in symbols:
        import_file(SqlCandleStore(engine), real_data_dir / REAL / FILES[symbol])


def settings_for(url: str, tmp: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=url,
        data_source="store",  # type: ignore[arg-type]
        llm_provider="rules",  # type: ignore[arg-type]
        sentiment_provider="offline",
        web_out_dir=tmp / "no-web",
        _env_file=None,  # type: ignore[call-arg]
        **overrides,
    )


async def record(engine: Engine, session_id: str, settings: Settings, **options: Any) -> str | None:
    """Run the session through the run recorder, as `firm.jobs.session_job` does."""
    from firm.recorder import RunRecorder
    from sessions.runner import run_session

    source = run_session(engine, session_id, settings=settings, **options)
    return await RunRecorder(engine, session_id, wake=lambda _run: None).record(source)


def run(engine: Engine, session_id: str, settings: Settings, **options: Any) -> str | None:
    return asyncio.run(record(engine, session_id, settings, **options))


def events(engine: Engine, session_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(RunEvent.seq, RunEvent.type, RunEvent.data)
            .where(RunEvent.run_id == session_id)
            .order_by(RunEvent.seq)
        ).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1)), "event seq has gaps"
    return [dict(r.data, type=r.type) for r in rows]


def check_stream(engine: Engine, session_id: str, status: str) -> list[dict[str, Any]]:
    """One `run_finished`, last, with the session's final status; tick events never repeat
    a bar."""
    evs = events(engine, session_id)
    finished = [e for e in evs if e["type"] == "run_finished"]
    assert len(finished) == 1 and evs[-1]["type"] == "run_finished", [e["type"] for e in evs][-5:]
    assert finished[0]["status"] == status, finished[0]
    ticks = [e["bar_time"] for e in evs if e["type"] == "session_tick"]
    assert len(ticks) == len(set(ticks)), "a bar was ticked twice"
    return evs


def check_bars(engine: Engine, session_id: str, symbols: list[str], first: datetime) -> list[int]:
    """Ticks: consecutive hourly bars from `first`, each once; decisions: exactly one per
    symbol for every bar but the last (a last-bar order could never fill)."""
    ticks = [t.bar_ms for t in store.ticks(engine, session_id)]
    start = int(first.timestamp() * 1000)
    expected = list(range(start, start + len(ticks) * HOUR_MS, HOUR_MS))
    assert ticks == expected, "a bar was lost or repeated"
    rows = store.decisions(engine, session_id)
    keys = [(r.symbol, r.bar_ms) for r in rows]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted((s, t) for s in symbols for t in ticks[:-1])
    return ticks


def session_trades(engine: Engine, session_id: str) -> list[Trade]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(Trade).where(Trade.run_id == session_id).order_by(Trade.id)).all()  # type: ignore[arg-type]
        )


def _fill(trade: Any) -> Fill:
    return Fill(
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        fee=trade.fee,
        slippage_bps=trade.slippage_bps,
        reason=trade.reason,
        executed_at=trade.executed_at,
        client_order_id=trade.client_order_id,
        trade_id=trade.id,
    )


def check_limits(engine: Engine, session_id: str, portfolio_id: int) -> dict[str, int]:
    """Every limit at every bar: each buy, measured as the ledger measures it (the fold of
    the trades before it, at its fill price), breaks no position/exposure/cash-reserve limit,
    has a stop within the stop distance, and was not decided while a circuit breaker was
    tripped (the decision bar's tick: drawdown and daily loss below their limits). Sells are
    never limited. Returns the counts checked."""
    info = get_portfolio(engine, portfolio_id)
    limits: RiskLimits = info.risk
    state = PortfolioState.start(info.starting_cash)
    ticks = {t.bar_ms: t for t in store.ticks(engine, session_id)}
    day_start: dict[int, float] = {}
    previous: float | None = None
    for bar_ms in sorted(ticks):
        day = bar_ms // 86_400_000
        if day not in day_start:
            day_start[day] = previous if previous is not None else float(info.starting_cash)
        previous = float(ticks[bar_ms].equity)
    buys = 0
    for trade in session_trades(engine, session_id):
        fill = _fill(trade)
        if trade.side == "buy":
            buys += 1
            before = account_figures(state, trade.symbol, trade.price)
            after_state = apply_fill(state, fill, stop_loss=trade.stop_loss)
            after = account_figures(after_state, trade.symbol, trade.price)
            broken = new_breaches(limits, before, after)
            assert not broken, (trade.id, broken)
            assert trade.stop_loss is not None and trade.stop_loss >= stop_floor(
                limits, trade.price
            ) - Decimal("0.0000001"), (trade.id, trade.stop_loss, trade.price)
            decided = int(trade.executed_at.timestamp() * 1000) - HOUR_MS
            tick = ticks.get(decided)
            if tick is not None:
                assert tick.drawdown_pct < limits.max_drawdown_pct, (trade.id, tick)
                start = day_start[decided // 86_400_000]
                loss = 100 * (start - float(tick.equity)) / start
                assert loss < limits.max_daily_loss_pct, (trade.id, loss)
            state = after_state
        else:
            state = apply_fill(state, fill)
    return {"buys": buys, "bars": len(ticks)}


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
