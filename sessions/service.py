"""What the API and the CLI call: create, list, show, steer and answer trading sessions.

A session is a `runs` row of kind `session` (id = session id, params = the `SessionSpec`);
what it decided and marked lives in `session_bars` / `session_ticks`
(`persistence.sessions`), its fills in the ledger (`trades.run_id` = session id). Everything
shown here is derived from those tables, so any process can answer for any session.

Errors: a refused input raises `FieldValueError` naming the field (API 422, CLI exit 2); an
unknown portfolio `UnknownPortfolioError` (field `portfolio_id`); an unknown session
`SessionNotFoundError` (a `LookupError`, 404); a lifecycle change the session's state does
not allow `SessionStateError` (409).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, insert, select

from core.settings import Settings, get_settings
from graph.events import RunEventModel
from persistence import sessions as store
from persistence.candles import SqlCandleStore
from persistence.events import last_seq
from persistence.ledger import load_state
from persistence.models import Run, Trade
from persistence.portfolios import (
    DuplicatePortfolioError,
    create_portfolio,
    get_portfolio,
)
from sessions.engine import decision_row
from sessions.schemas import (
    TERMINAL_SESSION,
    LimitMaxima,
    PendingApproval,
    SessionDecisionRow,
    SessionSpec,
    SessionView,
    SymbolState,
)
from tools.errors import FieldValueError
from tools.indicators import MIN_HISTORY_BARS
from tools.intervals import interval_ms
from tools.market_data import read_store
from tools.provenance import market_kind

WARMUP_BARS = MIN_HISTORY_BARS
"""Bars of stored history a replay needs before its first decision (the indicators' need)."""


class SessionNotFoundError(LookupError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session_id: no trading session {session_id}")
        self.field = "session_id"


class SessionStateError(FieldValueError):
    """The session's state does not allow this (e.g. resume a stopped session): 409."""


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- create ---------------------------------------------------------------------------------


def check_replay_history(engine: Engine, spec: SessionSpec) -> dict[str, str]:
    """Every symbol's stored history covers the warm-up before `replay_from` and at least one
    bar from it on; returns each symbol's candle source. Raises `FieldValueError`."""
    assert spec.replay_from is not None
    step = interval_ms(spec.interval)
    start_ms = _ms(spec.replay_from)
    sources: dict[str, str] = {}
    for symbol in spec.symbols:
        read = read_store(
            SqlCandleStore(engine),
            symbol,
            spec.interval,
            start_ms=start_ms - (WARMUP_BARS + 2) * step,
            end_ms=start_ms + 2 * step,
        )
        times = [] if read is None else read.frame["open_time"].tolist()
        before = sum(1 for t in times if t < start_ms)
        after = sum(1 for t in times if t >= start_ms)
        if before < WARMUP_BARS or after < 1:
            raise FieldValueError(
                "replay_from",
                f"stored {symbol} {spec.interval} candles do not cover "
                f"{spec.replay_from:%Y-%m-%d %H:%M} with {WARMUP_BARS} warm-up bars before it "
                f"({before} before, {after} from it); import or fetch them first",
            )
        assert read is not None
        sources[symbol] = read.source
    return sources


def _market_of(sources: dict[str, str]) -> str | None:
    kinds = {market_kind(s) for s in sources.values()}
    if len(kinds) > 1:
        raise FieldValueError(
            "symbols", f"the watchlist's stored candles mix real and synthetic data: {sources}"
        )
    return next(iter(kinds), None)


def create_session(engine: Engine, spec: SessionSpec, *, settings: Settings | None = None) -> str:
    """Validate up front, create the portfolio when none is named, write the run row
    (pending). Returns the session id; the caller enqueues the job or runs it in the
    foreground (`run_session`)."""
    settings = settings or get_settings()
    sources = check_replay_history(engine, spec) if spec.replay_from is not None else {}
    market = _market_of(sources) or "real"
    session_id = str(uuid.uuid4())
    name = spec.name or f"session-{session_id[:8]}"
    if spec.portfolio_id is not None:
        portfolio = get_portfolio(engine, spec.portfolio_id)
        if sources and portfolio.kind != market:
            raise FieldValueError(
                "portfolio_id",
                f"portfolio {portfolio.name!r} is {portfolio.kind} but the stored candles of "
                f"the watchlist are {market}: a {portfolio.kind} portfolio never trades "
                f"{market} prices",
            )
    else:
        cash = settings.default_starting_cash
        if spec.starting_cash is not None:
            cash = Decimal(str(spec.starting_cash))
        try:
            portfolio = create_portfolio(
                engine,
                name,
                cash,
                require_approval=spec.approval == "require",
                kind=market,
            )
        except DuplicatePortfolioError as exc:
            raise FieldValueError("name", exc.message) from exc
    params = spec.model_dump(mode="json")
    params["name"] = name
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Run).values(
                id=session_id,
                kind="session",
                status="pending",
                symbol=spec.symbols[0],
                interval=spec.interval,
                portfolio_id=portfolio.id,
                params=params,
                progress=0.0,
                model="rules"
                if spec.rules or settings.offline_models
                else (f"{settings.llm_model_cheap}/{settings.llm_model_strong}"),
                data_source=next(iter(sources.values()), None),
                created_at=now,
                updated_at=now,
            )
        )
    return session_id


# --- read -----------------------------------------------------------------------------------


def spec_of(run: Run) -> SessionSpec:
    params = {k: v for k, v in (run.params or {}).items() if k in SessionSpec.model_fields}
    return SessionSpec.model_validate(params)


def _run(engine: Engine, session_id: str) -> Run:
    rows = store.session_runs(engine, session_id)
    if not rows:
        raise SessionNotFoundError(session_id)
    return rows[0]


def _maxima(ticks: list[store.TickRow]) -> LimitMaxima:
    maxima = LimitMaxima()
    day, day_start, previous = None, None, None
    for tick in ticks:
        equity = float(tick.equity)
        this_day = tick.bar_ms // 86_400_000
        if this_day != day:
            day, day_start = this_day, (previous if previous is not None else equity)
        previous = equity
        maxima.max_position_pct = max(maxima.max_position_pct, *tick.positions.values(), 0.0)
        maxima.max_total_exposure_pct = max(maxima.max_total_exposure_pct, tick.exposure_pct)
        cash_pct = 100.0 * float(tick.cash) / equity if equity > 0 else 0.0
        maxima.min_cash_pct = min(maxima.min_cash_pct, cash_pct)
        maxima.max_drawdown_pct = max(maxima.max_drawdown_pct, tick.drawdown_pct)
        if day_start:
            loss = 100.0 * (day_start - equity) / day_start
            maxima.max_daily_loss_pct = max(maxima.max_daily_loss_pct, loss)
    return maxima


def _trade_count(engine: Engine, session_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(Trade.run_id == session_id)).scalar_one()
        )


def _symbols_state(
    engine: Engine, run: Run, spec: SessionSpec, checkpoint: dict[str, Any]
) -> list[SymbolState]:
    state = load_state(engine, run.portfolio_id) if run.portfolio_id else None
    closes = checkpoint.get("closes", {})
    out = []
    for symbol in spec.symbols:
        last = store.decisions(engine, run.id, symbol=symbol, limit=1, newest_first=True)
        position = state.positions.get(symbol) if state else None
        out.append(
            SymbolState(
                symbol=symbol,
                last_bar=last[0].bar_time if last else None,
                last_close=closes.get(symbol),
                last_action=last[0].action if last else None,  # type: ignore[arg-type]
                position_qty=float(position.quantity) if position else 0.0,
                stop_loss=float(position.stop_loss) if position and position.stop_loss else None,
                take_profit=(
                    float(position.take_profit) if position and position.take_profit else None
                ),
            )
        )
    return out


def _view(engine: Engine, run: Run) -> SessionView:
    spec = spec_of(run)
    step = timedelta(milliseconds=interval_ms(spec.interval))
    checkpoint = dict(run.checkpoint or {})
    all_ticks = store.ticks(engine, run.id)
    last = all_ticks[-1] if all_ticks else None
    total, _filled = store.decision_counts(engine, run.id)
    portfolio = get_portfolio(engine, run.portfolio_id) if run.portfolio_id else None
    pending = [
        PendingApproval(
            symbol=row.symbol,
            bar_time=row.bar_time,
            action=row.action,  # type: ignore[arg-type]
            size_pct=row.size_pct,
            expires_after_bar=row.bar_time + step * spec.approval_timeout_bars,
        )
        for row in store.decisions(engine, run.id, statuses=("awaiting_approval",))
    ]
    next_ms = checkpoint.get("next_bar_ms")
    return SessionView(
        id=run.id,
        name=str((run.params or {}).get("name") or run.id),
        # A run cancelled through the generic run routes is a stopped session.
        status="stopped" if run.status == "cancelled" else run.status,  # type: ignore[arg-type]
        clock=spec.clock,
        symbols=list(spec.symbols),
        interval=spec.interval,
        portfolio_id=run.portfolio_id or 0,
        approval=spec.approval,
        approval_timeout_bars=spec.approval_timeout_bars,
        replay_from=spec.replay_from,
        until=spec.until,
        speed=spec.speed,
        data_source=run.data_source,
        now=_time(last.bar_ms) + step if last else None,
        next_bar=_time(next_ms) if next_ms is not None else None,
        bars_processed=len(all_ticks),
        decisions=total,
        trades=_trade_count(engine, run.id),
        equity=float(last.equity) if last else None,
        starting_cash=float(portfolio.starting_cash) if portfolio else None,
        drawdown_pct=last.drawdown_pct if last else None,
        doing=checkpoint.get("doing") if run.status not in TERMINAL_SESSION else None,
        error=run.error,
        limits={k: float(v) for k, v in portfolio.risk.model_dump().items()} if portfolio else {},
        maxima=_maxima(all_ticks),
        symbols_state=_symbols_state(engine, run, spec, checkpoint),
        pending_approvals=pending,
        last_event_seq=last_seq(engine, run.id),
        created_at=run.created_at,
        updated_at=run.updated_at,
    )


def list_sessions(engine: Engine) -> list[SessionView]:
    """Every session, newest first."""
    return [_view(engine, run) for run in store.session_runs(engine)]


def get_session(engine: Engine, session_id: str) -> SessionView:
    return _view(engine, _run(engine, session_id))


def decisions(
    engine: Engine, session_id: str, symbol: str | None = None, limit: int = 500
) -> list[SessionDecisionRow]:
    """The session's decisions, newest first (at most `limit`)."""
    _run(engine, session_id)
    rows = store.decisions(engine, session_id, symbol=symbol, limit=limit, newest_first=True)
    return [decision_row(r) for r in rows]


def ticks(engine: Engine, session_id: str) -> list[tuple[datetime, float]]:
    """The equity curve: (bar open time, equity marked at that bar's close), oldest first —
    the same convention as a backtest's equity curve."""
    _run(engine, session_id)
    return [(_time(t.bar_ms), float(t.equity)) for t in store.ticks(engine, session_id)]


# --- steer ----------------------------------------------------------------------------------


def _change(engine: Engine, session_id: str, to: str, only_from: tuple[str, ...]) -> SessionView:
    run = _run(engine, session_id)
    if not store.set_session_status(engine, session_id, to, only_from=only_from):
        run = _run(engine, session_id)
        raise SessionStateError("status", f"session {session_id} is {run.status}; cannot {to}")
    return get_session(engine, session_id)


def pause(engine: Engine, session_id: str) -> SessionView:
    """The clock stops after the current bar; `resume` continues at the next bar."""
    return _change(engine, session_id, "paused", ("pending", "running"))


def resume(engine: Engine, session_id: str) -> SessionView:
    """paused → running. A live job picks it up at once; if the worker died meanwhile, the
    sweep gives the running session a recovery job (the API may enqueue one at once)."""
    return _change(engine, session_id, "running", ("paused",))


def stop(engine: Engine, session_id: str) -> SessionView:
    """A running session finishes its current bar, then ends `stopped`; a pending or paused
    one (no bar in progress) ends `stopped` at once."""
    from firm.runs import end_run

    _run(engine, session_id)
    if end_run(engine, session_id, "stopped", None, only_from=("pending", "paused")):
        why = "the session was stopped before it could fill"
        store.close_open_rows(engine, session_id, why=why)
        return get_session(engine, session_id)
    return _change(engine, session_id, "stopping", ("running",))


def answer_approval(
    engine: Engine,
    session_id: str,
    symbol: str,
    bar_time: datetime,
    approved: bool,
    note: str = "",
) -> SessionDecisionRow:
    """Approve (fills at the next bar's open) or reject a decision awaiting approval."""
    run = _run(engine, session_id)
    if run.status in TERMINAL_SESSION:
        raise SessionStateError("status", f"session {session_id} is {run.status}")
    at = bar_time if bar_time.tzinfo else bar_time.replace(tzinfo=UTC)
    row = store.find_decision(engine, session_id, symbol, _ms(at))
    if row is None:
        raise SessionNotFoundError(f"{session_id}: no {symbol} decision at {at:%Y-%m-%d %H:%M}")
    said = f": {note}" if note else ""
    values = (
        {"status": "decided", "detail": f"approved by the user{said}"}
        if approved
        else {"status": "rejected", "detail": f"rejected by the user{said}"}
    )
    updated = store.update_decision(engine, row.id, only_from=("awaiting_approval",), **values)
    if updated is None:
        raise SessionStateError(
            "bar_time",
            f"the {symbol} decision at {at:%Y-%m-%d %H:%M} is {row.status}, not awaiting approval",
        )
    return decision_row(updated)


def run_session(
    engine: Engine, session_id: str, *, settings: Settings | None = None, **options: Any
) -> AsyncIterator[RunEventModel]:
    """The session's events while it runs (see `sessions.runner.run_session`)."""
    from sessions.runner import run_session as run

    return run(engine, session_id, settings=settings or get_settings(), **options)
