"""Parity: a replay session compared with the backtest of the same bars, costs and model.

For each symbol the reference is `graph.backtest.engine.run_engine` over the data the session
loaded (`sessions.market`: the same candles, warm-up and indicator frame), decided by a
`GraphDecider` built like the session's (the same settings, fee, slippage, risk limits and
model; the LLM answer cache reproduces a model's answers). Compared:
- decisions: action, approval, size and protective levels at every decision bar;
- fills: time, side, reason and quantity exactly; price and fee to the cent;
- equity: at every bar's close, to the cent.
Every difference is listed (`ParityDiff`), with the ledger's reason when the persistent
ledger's limit enforcement changed or skipped an order the backtest account filled: the
ledger enforces the portfolio's limits again at the fill price and moves a too-distant stop
(`persistence.ledger.execute_order`), the in-memory backtest account does neither — that is a
real, named difference, never hidden. A watchlist of several symbols shares one portfolio
(cash, limits) while each backtest has its own account: only decisions are compared then,
and `notes` say so.
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


def _compare_decisions(
    db: Engine, session_id: str, symbol: str, outcome: EngineOutcome, diffs: list[ParityDiff]
) -> int:
    rows = {r.bar_ms: r for r in store.decisions(db, session_id, symbol=symbol)}
    compared = 0
    for record in outcome.state.decisions:
        at_ms = int(record.at.timestamp() * 1000)
        row = rows.get(at_ms)
        theirs = (
            f"{record.action} approved={record.approved} size={record.size_pct:.4f}% "
            f"stop={record.stop_loss} tp={record.take_profit}"
        )
        if row is None:
            diffs.append(
                ParityDiff(
                    what="decision",
                    symbol=symbol,
                    at=record.at,
                    session="no decision",
                    backtest=theirs,
                )
            )
            continue
        compared += 1
        ours = (
            f"{row.action} approved={row.approved} size={row.size_pct:.4f}% "
            f"stop={row.stop_loss} tp={row.take_profit}"
        )
        if ours != theirs:
            diffs.append(
                ParityDiff(
                    what="decision", symbol=symbol, at=record.at, session=ours, backtest=theirs
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
    outcome: EngineOutcome,
    step: timedelta,
    diffs: list[ParityDiff],
) -> int:
    ours: dict[tuple[datetime, str, str], _Fill] = {
        (f.at, f.side, f.reason): f for f in _session_fills(db, session_id, symbol)
    }
    theirs: dict[tuple[datetime, str, str], _Fill] = {
        (f.at, f.side, f.reason): _Fill(f.at, f.side, f.reason, f.quantity, f.price, f.fee)
        for f in outcome.fills
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


def _compare_equity(
    ticks: list[store.TickRow], outcome: EngineOutcome, diffs: list[ParityDiff]
) -> int:
    theirs = dict(zip(outcome.state.equity_times_ms, outcome.state.equity, strict=True))
    compared = 0
    for tick in ticks:
        if tick.bar_ms not in theirs:
            continue
        compared += 1
        b = Decimal(repr(theirs[tick.bar_ms]))
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
    end = _time(ticks[-1].bar_ms) + step
    diffs: list[ParityDiff] = []
    notes: list[str] = []
    decisions = fills = points = 0
    backtest_final = 0.0
    single = len(spec.symbols) == 1
    for symbol in spec.symbols:
        outcome = _backtest(engine, spec, symbol, end, settings, portfolio.risk)
        decisions += _compare_decisions(engine, session_id, symbol, outcome, diffs)
        if single:
            fills += _compare_fills(engine, session_id, symbol, outcome, step, diffs)
            points += _compare_equity(ticks, outcome, diffs)
            backtest_final = outcome.state.equity[-1]
        else:
            backtest_final += outcome.state.equity[-1] - float(portfolio.starting_cash)
    if not single:
        backtest_final += float(portfolio.starting_cash)
        notes.append(
            f"{len(spec.symbols)} symbols share one portfolio (cash, exposure and cash-reserve "
            "limits) in the session, while each backtest has its own account: decisions are "
            "compared, fills and equity are not (backtest_final_equity sums each backtest's "
            "profit over one starting cash)"
        )
    if spec.approval == "require":
        notes.append("approval `require`: orders waited for a human; the backtest never waits")
    return ParityReport(
        session_id=session_id,
        bars=len(ticks),
        decisions_compared=decisions,
        fills_compared=fills,
        equity_points_compared=points,
        identical=not diffs and single,
        differences=diffs[:MAX_LISTED],
        session_final_equity=float(ticks[-1].equity),
        backtest_final_equity=backtest_final,
        notes=notes,
    )
