"""The backtest of a watchlist: the session's engine of record run straight through.

A watchlist of several symbols shares one portfolio (cash, the per-symbol and total exposure
caps, the cash reserve, the circuit breakers), so its reference cannot be one
`graph.backtest.engine.run_engine` account per symbol. It is the session's own bar step
(`sessions.engine.SessionEngine.step`: fills at the next open through the ledger under the
portfolio lock, exits, equity at the close, every symbol decided) walked over the same bars
as a backtest walks them — no clock, no queue, no job, no events, no pause, no human — into a
throw-away portfolio on a scratch SQLite database (a temporary file holding only that
portfolio, its run row and what the engine writes; deleted afterwards). The candles and the
indicator snapshots are loaded from the session's database exactly as the replay clock loads
them (`sessions.market.load_replay`), the deciders are built as a backtest builds them
(`GraphDecider.for_backtest`: the same settings, fee, slippage, limits and model; the dated
inputs and, for a model, the LLM answer cache read from the session's database). The real
portfolio, the session's rows and the run tables are never touched.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert, select

from core.risk import RiskLimits
from core.settings import Settings
from graph.backtest.desk import GraphDecider
from persistence import sessions as store
from persistence.db import make_engine
from persistence.models import Base, Run, Trade
from persistence.portfolios import create_portfolio
from sessions.desk import close_all, desk_settings
from sessions.engine import Marks, SessionEngine
from sessions.market import SymbolData, backtest_params, load_replay
from sessions.schemas import SessionSpec


@dataclass(frozen=True)
class ReferenceFill:
    symbol: str
    at: datetime
    side: str
    reason: str
    quantity: Decimal
    price: Decimal
    fee: Decimal


@dataclass
class PortfolioOutcome:
    """What the reference backtest decided, filled and marked, bar by bar."""

    decisions: list[store.BarRow]
    fills: list[ReferenceFill]
    ticks: list[store.TickRow]


def _deciders(
    db: Engine,
    spec: SessionSpec,
    data: dict[str, SymbolData],
    settings: Settings,
    limits: RiskLimits,
) -> dict[str, GraphDecider]:
    end = max(datetime.fromtimestamp(sd.market.times_ms[-1] / 1000, tz=UTC) for sd in data.values())
    out: dict[str, GraphDecider] = {}
    for symbol in spec.symbols:
        out[symbol] = GraphDecider.for_backtest(
            backtest_params(spec, symbol, end),
            run_id=f"parity-{uuid.uuid4()}",
            settings=desk_settings(settings, spec),
            db=None if spec.rules else db,
            rules=spec.rules,
            risk_limits=limits,
            inputs_db=db,
        )
    return out


def _scratch_session(
    scratch: Engine, spec: SessionSpec, cash: Decimal, limits: RiskLimits, kind: str
) -> tuple[str, int]:
    """A fresh schema, one portfolio and one session run row: all the engine writes to."""
    Base.metadata.create_all(scratch)
    portfolio = create_portfolio(scratch, "parity-reference", cash, risk=limits, kind=kind)
    run_id = str(uuid.uuid4())
    with scratch.begin() as conn:
        conn.execute(
            insert(Run).values(
                id=run_id,
                kind="session",
                status="running",
                symbol=spec.symbols[0],
                interval=spec.interval,
                portfolio_id=portfolio.id,
                params=spec.model_dump(mode="json"),
                progress=0.0,
            )
        )
    return run_id, portfolio.id


async def _walk(
    engine: SessionEngine, data: dict[str, SymbolData], bars: list[int], upto_ms: int, every: int
) -> None:
    total = len(bars)
    for k, bar_ms in enumerate(bars):
        if bar_ms > upto_ms:
            break
        await engine.step(bar_ms, data, decide=k != total - 1 and k % every == 0)


def run_portfolio_backtest(
    db: Engine,
    spec: SessionSpec,
    *,
    upto_ms: int,
    starting_cash: Decimal,
    limits: RiskLimits,
    kind: str,
    settings: Settings,
) -> PortfolioOutcome:
    """Walk the replay's bars from `spec.replay_from` through `upto_ms` (the session's last
    processed bar) with the replay clock's decision bars (every `spec.every`-th, never the
    replay's last), auto approval (a backtest never waits for a human)."""
    spec = spec.model_copy(update={"approval": "auto", "speed": None})
    assert spec.replay_from is not None
    data = load_replay(db, spec, settings)
    start = int(spec.replay_from.timestamp() * 1000)
    bars = sorted({t for sd in data.values() for t in sd.market.times_ms if t >= start})
    deciders = _deciders(db, spec, data, settings, limits)
    try:
        with tempfile.TemporaryDirectory(prefix="cryptofirm-parity-") as tmp:
            scratch = make_engine(f"sqlite:///{Path(tmp) / 'reference.db'}")
            try:
                run_id, portfolio_id = _scratch_session(scratch, spec, starting_cash, limits, kind)
                engine = SessionEngine(
                    scratch,
                    run_id,
                    spec,
                    portfolio_id,
                    deciders,
                    emit=lambda _event: None,
                    marks=Marks(float(starting_cash), float(starting_cash)),
                )
                asyncio.run(_walk(engine, data, bars, upto_ms, spec.every))
                with scratch.connect() as conn:
                    trades = conn.execute(
                        select(Trade).where(Trade.portfolio_id == portfolio_id).order_by(Trade.id)
                    ).all()
                return PortfolioOutcome(
                    decisions=store.decisions(scratch, run_id),
                    fills=[
                        ReferenceFill(
                            t.symbol, t.executed_at, t.side, t.reason, t.quantity, t.price, t.fee
                        )
                        for t in trades  # type: ignore[attr-defined]
                    ],
                    ticks=store.ticks(scratch, run_id),
                )
            finally:
                scratch.dispose()
    finally:
        close_all(deciders)
