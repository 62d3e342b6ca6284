"""Parity: a replay session compared with the backtest of the same bars, costs and model.

One symbol: the reference is `graph.backtest.engine.run_engine` (the independently verified
backtester) over the data the session loaded (`sessions.market`: the same candles, warm-up
and indicator frame), decided by a `GraphDecider` built like the session's (the same
settings, fee, slippage, risk limits and model; the LLM answer cache reproduces a model's
answers). The ledger enforces the portfolio's limits again at the fill price and moves a
too-distant stop (`persistence.ledger.execute_order`), the in-memory backtest account does
neither: such a difference is named with the ledger's words, never hidden.

Several symbols share one portfolio (cash, exposure caps, cash reserve, circuit breakers),
which no per-symbol backtest account models: the reference is the backtest of the whole
watchlist, `sessions.portfolio_backtest` — the session's engine of record walked straight
over the same bars into a throw-away portfolio on a scratch database (no clock, queue, job,
events or human), with the same spec, costs, limits and model.

Compared either way:
- decisions: action, approval, size and protective levels at every decision bar;
- fills: time, side, reason and quantity exactly; price and fee to the cent;
- equity: at every bar's close, to the cent.
Every difference is listed (`ParityDiff`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from core.settings import Settings, get_settings
from graph.backtest.data import load_backtest_data
from graph.backtest.desk import GraphDecider
from graph.backtest.engine import EngineOutcome, run_engine
from persistence import sessions as store
from persistence.models import Trade
from persistence.portfolios import get_portfolio
from sessions.desk import desk_settings
from sessions.market import backtest_params
from sessions.portfolio_backtest import PortfolioOutcome, run_portfolio_backtest
from sessions.schemas import ParityDiff, ParityReport, SessionSpec
from tools.errors import FieldValueError
from tools.intervals import interval_ms

CENT = Decimal("0.005")
MAX_LISTED = 200


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True)
class _Fill:
    at: datetime
    side: str
    reason: str
    quantity: Decimal
    price: Decimal
    fee: Decimal

    def text(self) -> str:
        return (
            f"{self.side} {self.quantity.normalize():f} @ {self.price:.2f} fee {self.fee:.2f} "
            f"({self.reason})"
        )


def _backtest(
    db: Engine, spec: SessionSpec, symbol: str, end: datetime, settings: Settings, limits: object
) -> EngineOutcome:
    params = backtest_params(spec, symbol, end)
    data = load_backtest_data(params, engine=db, settings=settings)
    decider = GraphDecider.for_backtest(
        params,
        run_id=f"parity-{uuid.uuid4()}",
        settings=desk_settings(settings, spec),
        db=None if spec.rules else db,
        rules=spec.rules,
        risk_limits=limits,  # type: ignore[arg-type]
        inputs_db=db,
    )
    try:
        return run_engine(data.market, params, decider, data.snapshots, data_source=data.source)
    finally:
        decider.close()


def _session_fills(db: Engine, session_id: str, symbol: str) -> list[_Fill]:
    with db.connect() as conn:
        rows = conn.execute(
            select(Trade)
            .where(Trade.run_id == session_id, Trade.symbol == symbol)
            .order_by(Trade.id)
        ).all()
    return [
        _Fill(r.executed_at, r.side, r.reason, r.quantity, r.price, r.fee)
        for r in rows  # type: ignore[attr-defined]
    ]


def _decision_text(
    action: str, approved: bool, size_pct: float, stop: float | None, tp: float | None
) -> str:
    return f"{action} approved={approved} size={size_pct:.4f}% stop={stop} tp={tp}"


@dataclass
class _Reference:
    """The backtest's side of the comparison, whichever engine produced it."""

    decisions: dict[tuple[str, int], str]
    fills: dict[str, list[_Fill]]
    equity: dict[int, Decimal]
    final_equity: float
    session_extras: bool
    """True when the reference walked the session's decision bars exactly (a session decision
    the reference lacks is a difference); False for `run_engine`, which never decides the
    last bar of its range (a stopped session did)."""


def _from_engine(symbol: str, outcome: EngineOutcome) -> _Reference:
    return _Reference(
        decisions={
            (symbol, int(r.at.timestamp() * 1000)): _decision_text(
                r.action, r.approved, r.size_pct, r.stop_loss, r.take_profit
            )
            for r in outcome.state.decisions
        },
        fills={
            symbol: [
                _Fill(f.at, f.side, f.reason, f.quantity, f.price, f.fee) for f in outcome.fills
            ]
        },
        equity={
            t: Decimal(repr(e))
            for t, e in zip(outcome.state.equity_times_ms, outcome.state.equity, strict=True)
        },
        final_equity=outcome.state.equity[-1],
        session_extras=False,
    )


def _from_portfolio(outcome: PortfolioOutcome) -> _Reference:
    fills: dict[str, list[_Fill]] = {}
    for f in outcome.fills:
        fills.setdefault(f.symbol, []).append(
            _Fill(f.at, f.side, f.reason, f.quantity, f.price, f.fee)
        )
    return _Reference(
        decisions={
            (r.symbol, r.bar_ms): _decision_text(
                r.action, r.approved, r.size_pct, r.stop_loss, r.take_profit
            )
            for r in outcome.decisions
        },
        fills=fills,
        equity={t.bar_ms: t.equity for t in outcome.ticks},
        final_equity=float(outcome.ticks[-1].equity) if outcome.ticks else 0.0,
        session_extras=True,
    )


def _compare_decisions(
    db: Engine, session_id: str, ref: _Reference, diffs: list[ParityDiff]
) -> int:
    ours = {
        (r.symbol, r.bar_ms): _decision_text(
            r.action, r.approved, r.size_pct, r.stop_loss, r.take_profit
        )
        for r in store.decisions(db, session_id)
    }
    keys = set(ref.decisions) | (set(ours) if ref.session_extras else set())
    compared = 0
    for symbol, at_ms in sorted(keys, key=lambda k: (k[1], k[0])):
        a, b = ours.get((symbol, at_ms)), ref.decisions.get((symbol, at_ms))
        if a is not None and b is not None:
            compared += 1
        if a != b:
            diffs.append(
                ParityDiff(
                    what="decision",
                    symbol=symbol,
                    at=_time(at_ms),
                    session=a or "no decision",
                    backtest=b or "no decision",
                )
            )
    return compared


def _ledger_notes(db: Engine, session_id: str, symbol: str) -> dict[datetime, str]:
    """What the ledger said about the orders that filled at each time (cuts, moved stops,
    skips): the reason a fill can differ from the backtest account's."""
    notes: dict[datetime, str] = {}
    for row in store.decisions(db, session_id, symbol=symbol, statuses=("filled", "skipped")):
        if row.detail and row.order_request is not None:
            notes[row.bar_time] = row.detail
    return notes


def _compare_fills(
    db: Engine,
    session_id: str,
    symbol: str,
    ref: _Reference,
    step: timedelta,
    diffs: list[ParityDiff],
) -> int:
    ours: dict[tuple[datetime, str, str], _Fill] = {
        (f.at, f.side, f.reason): f for f in _session_fills(db, session_id, symbol)
    }
    theirs: dict[tuple[datetime, str, str], _Fill] = {
        (f.at, f.side, f.reason): f for f in ref.fills.get(symbol, [])
    }
    notes = _ledger_notes(db, session_id, symbol)
    compared = 0
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        why = notes.get(key[0] - step)
        hint = f" — ledger: {why}" if why else ""
        if a is None or b is None:
            diffs.append(
                ParityDiff(
                    what="fill",
                    symbol=symbol,
                    at=key[0],
                    session=(a.text() if a else "no fill") + hint,
                    backtest=b.text() if b else "no fill",
                )
            )
            continue
        compared += 1
        same = (
            a.quantity == b.quantity and abs(a.price - b.price) < CENT and abs(a.fee - b.fee) < CENT
        )
        if not same:
            diffs.append(
                ParityDiff(
                    what="fill",
                    symbol=symbol,
                    at=key[0],
                    session=a.text() + hint,
                    backtest=b.text(),
                )
            )
    return compared


def _compare_equity(ticks: list[store.TickRow], ref: _Reference, diffs: list[ParityDiff]) -> int:
    compared = 0
    for tick in ticks:
        b = ref.equity.get(tick.bar_ms)
        if b is None:
            if ref.session_extras:
                diffs.append(
                    ParityDiff(
                        what="equity",
                        at=_time(tick.bar_ms),
                        session=f"{tick.equity:.2f}",
                        backtest="no bar",
                    )
                )
            continue
        compared += 1
        if abs(tick.equity - b) >= CENT:
            diffs.append(
                ParityDiff(
                    what="equity",
                    at=_time(tick.bar_ms),
                    session=f"{tick.equity:.2f}",
                    backtest=f"{b:.2f}",
                )
            )
    return compared


def parity_report(
    engine: Engine, session_id: str, *, settings: Settings | None = None
) -> ParityReport:
    """Compare replay session `session_id` with the backtest of the same bars (see above)."""
    from sessions.service import _run, spec_of

    settings = settings or get_settings()
    run = _run(engine, session_id)
    spec = spec_of(run)
    if spec.replay_from is None:
        raise FieldValueError("session_id", "parity compares a replay session with a backtest")
    ticks = store.ticks(engine, session_id)
    if len(ticks) < 2:
        raise FieldValueError("session_id", f"session {session_id} has processed < 2 bars")
    assert run.portfolio_id is not None
    portfolio = get_portfolio(engine, run.portfolio_id)
    spec = spec.model_copy(update={"starting_cash": float(portfolio.starting_cash)})
    step = timedelta(milliseconds=interval_ms(spec.interval))
    if len(spec.symbols) == 1:
        end = _time(ticks[-1].bar_ms) + step
        outcome = _backtest(engine, spec, spec.symbols[0], end, settings, portfolio.risk)
        ref = _from_engine(spec.symbols[0], outcome)
    else:
        ref = _from_portfolio(
            run_portfolio_backtest(
                engine,
                spec,
                upto_ms=ticks[-1].bar_ms,
                starting_cash=portfolio.starting_cash,
                limits=portfolio.risk,
                kind=portfolio.kind,
                settings=settings,
            )
        )
    diffs: list[ParityDiff] = []
    notes: list[str] = []
    decisions = _compare_decisions(engine, session_id, ref, diffs)
    fills = sum(_compare_fills(engine, session_id, s, ref, step, diffs) for s in spec.symbols)
    points = _compare_equity(ticks, ref, diffs)
    if spec.approval == "require":
        notes.append("approval `require`: orders waited for a human; the backtest never waits")
    if len(diffs) > MAX_LISTED:
        notes.append(f"{len(diffs)} differences; the first {MAX_LISTED} are listed")
    return ParityReport(
        session_id=session_id,
        bars=len(ticks),
        decisions_compared=decisions,
        fills_compared=fills,
        equity_points_compared=points,
        identical=not diffs,
        differences=diffs[:MAX_LISTED],
        session_final_equity=float(ticks[-1].equity),
        backtest_final_equity=ref.final_equity,
        notes=notes,
    )
