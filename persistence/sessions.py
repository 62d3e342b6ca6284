"""The tables of trading sessions: `session_bars` (one decision per session, symbol and bar)
and `session_ticks` (one equity mark per processed bar), read and written here only.

Both inserts are idempotent on their unique keys: a second insert of the same (session,
symbol, bar) or (session, bar) writes nothing and the stored row is returned, so a restarted
session can never decide a bar twice nor record a bar twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from persistence.events import notify_run
from persistence.models import Run, SessionBar, SessionTick, Trade

BARS = cast(Table, SessionBar.__table__)
TICKS = cast(Table, SessionTick.__table__)

OPEN_BAR_STATUSES = ("decided", "awaiting_approval")
"""A row in these may still lead to a fill (when it carries an order)."""


@dataclass(frozen=True)
class BarRow:
    """A `session_bars` row as the engine and the service see it."""

    id: int
    symbol: str
    bar_ms: int
    decision: dict[str, Any]
    order_request: dict[str, Any] | None
    action: str
    approved: bool
    size_pct: float
    stop_loss: float | None
    take_profit: float | None
    status: str
    detail: str | None
    trade_id: int | None

    @property
    def bar_time(self) -> datetime:
        return datetime.fromtimestamp(self.bar_ms / 1000, tz=UTC)


@dataclass(frozen=True)
class TickRow:
    bar_ms: int
    equity: Decimal
    cash: Decimal
    exposure_pct: float
    drawdown_pct: float
    positions: dict[str, float]


def _insert(conn: Connection, table: Table, keys: list[str]):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)


def _bar(row: Any) -> BarRow:
    return BarRow(
        id=row.id,
        symbol=row.symbol,
        bar_ms=int(row.bar_ms),
        decision=dict(row.decision or {}),
        order_request=dict(row.order_request) if row.order_request else None,
        action=row.action,
        approved=bool(row.approved),
        size_pct=float(row.size_pct),
        stop_loss=row.stop_loss,
        take_profit=row.take_profit,
        status=row.status,
        detail=row.detail,
        trade_id=row.trade_id,
    )


def _tick(row: Any) -> TickRow:
    return TickRow(
        bar_ms=int(row.bar_ms),
        equity=row.equity,
        cash=row.cash,
        exposure_pct=float(row.exposure_pct),
        drawdown_pct=float(row.drawdown_pct),
        positions={k: float(v) for k, v in (row.positions or {}).items()},
    )


def insert_decision(
    engine: Engine, session_id: str, symbol: str, bar_ms: int, values: dict[str, Any]
) -> tuple[BarRow, bool]:
    """Insert the decision of (session, symbol, bar) unless one exists; returns the stored
    row and whether this call wrote it."""
    now = datetime.now(UTC)
    row = {
        "session_id": session_id,
        "symbol": symbol,
        "bar_ms": bar_ms,
        "created_at": now,
        "updated_at": now,
        **values,
    }
    with engine.begin() as conn:
        done = conn.execute(_insert(conn, BARS, ["session_id", "symbol", "bar_ms"]).values(**row))
        stored = conn.execute(
            select(BARS).where(
                BARS.c.session_id == session_id, BARS.c.symbol == symbol, BARS.c.bar_ms == bar_ms
            )
        ).one()
    return _bar(stored), bool(done.rowcount)


def find_decision(engine: Engine, session_id: str, symbol: str, bar_ms: int) -> BarRow | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(BARS).where(
                BARS.c.session_id == session_id, BARS.c.symbol == symbol, BARS.c.bar_ms == bar_ms
            )
        ).first()
    return _bar(row) if row is not None else None


def decisions(
    engine: Engine,
    session_id: str,
    *,
    symbol: str | None = None,
    statuses: Iterable[str] | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[BarRow]:
    query = select(BARS).where(BARS.c.session_id == session_id)
    if symbol is not None:
        query = query.where(BARS.c.symbol == symbol)
    if statuses is not None:
        query = query.where(BARS.c.status.in_(list(statuses)))
    newest = (BARS.c.bar_ms.desc(), BARS.c.symbol)
    query = query.order_by(*(newest if newest_first else (BARS.c.bar_ms, BARS.c.symbol)))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [_bar(r) for r in conn.execute(query)]


def update_decision(
    engine: Engine, row_id: int, *, only_from: Iterable[str] | None = None, **values: Any
) -> BarRow | None:
    """Update one decision row (only while its status is in `only_from`, when given);
    returns the row after the update, or None when the condition failed."""
    query = update(BARS).where(BARS.c.id == row_id)
    if only_from is not None:
        query = query.where(BARS.c.status.in_(list(only_from)))
    with engine.begin() as conn:
        done = conn.execute(query.values(updated_at=datetime.now(UTC), **values))
        if not done.rowcount:
            return None
        return _bar(conn.execute(select(BARS).where(BARS.c.id == row_id)).one())


def decision_counts(engine: Engine, session_id: str) -> tuple[int, int]:
    """(decisions, decisions that filled)."""
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).where(BARS.c.session_id == session_id)
        ).scalar_one()
        filled = conn.execute(
            select(func.count()).where(BARS.c.session_id == session_id, BARS.c.status == "filled")
        ).scalar_one()
    return int(total), int(filled)


def ticks(engine: Engine, session_id: str) -> list[TickRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(TICKS).where(TICKS.c.session_id == session_id).order_by(TICKS.c.bar_ms)
        )
        return [_tick(r) for r in rows]


def last_tick(engine: Engine, session_id: str) -> TickRow | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(TICKS)
            .where(TICKS.c.session_id == session_id)
            .order_by(TICKS.c.bar_ms.desc())
            .limit(1)
        ).first()
    return _tick(row) if row is not None else None


def tick_count(engine: Engine, session_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(TICKS.c.session_id == session_id)).scalar_one()
        )


def set_session_status(
    engine: Engine, session_id: str, status: str, *, only_from: Iterable[str]
) -> bool:
    """Move a session's run row to `status` when it is in `only_from` (wakes SSE relays)."""
    with engine.begin() as conn:
        done = conn.execute(
            update(Run)
            .where(Run.id == session_id, Run.kind == "session", Run.status.in_(list(only_from)))
            .values(status=status, updated_at=datetime.now(UTC))
        )
        notify_run(conn, session_id)
    return bool(done.rowcount)


def session_runs(engine: Engine, session_id: str | None = None) -> list[Run]:
    """Session run rows, newest first (one when `session_id` is given)."""
    from persistence.db import session_scope

    query = select(Run).where(Run.kind == "session")
    if session_id is not None:
        query = query.where(Run.id == session_id)
    with session_scope(engine) as session:
        rows = list(session.scalars(query.order_by(Run.created_at.desc())))
        session.expunge_all()
    return rows


def finish_bar(
    engine: Engine,
    session_id: str,
    tick: TickRow,
    checkpoint: dict[str, Any],
    *,
    progress: float | None = None,
) -> bool:
    """Bar `tick.bar_ms` is done: its tick and the run's checkpoint in ONE transaction (a
    session resumed after a crash finds both or neither). False when it was already done."""
    values: dict[str, Any] = {"checkpoint": checkpoint, "updated_at": datetime.now(UTC)}
    if progress is not None:
        values["progress"] = progress
    with engine.begin() as conn:
        done = conn.execute(
            _insert(conn, TICKS, ["session_id", "bar_ms"]).values(
                session_id=session_id,
                bar_ms=tick.bar_ms,
                equity=tick.equity,
                cash=tick.cash,
                exposure_pct=tick.exposure_pct,
                drawdown_pct=tick.drawdown_pct,
                positions=tick.positions,
                created_at=datetime.now(UTC),
            )
        )
        conn.execute(update(Run).where(Run.id == session_id).values(**values))
    return bool(done.rowcount)


def set_doing(engine: Engine, session_id: str, doing: str | None) -> None:
    """What the session is doing now, in plain words (kept in the run's checkpoint)."""
    with engine.begin() as conn:
        checkpoint = conn.execute(select(Run.checkpoint).where(Run.id == session_id)).scalar()
        merged = {**(checkpoint or {}), "doing": doing}
        conn.execute(
            update(Run)
            .where(Run.id == session_id)
            .values(checkpoint=merged, updated_at=datetime.now(UTC))
        )
        notify_run(conn, session_id)


def claim_trade(engine: Engine, trade_id: int, session_id: str) -> None:
    """Tag a protective exit (written by the ledger without a run) as this session's."""
    with engine.begin() as conn:
        conn.execute(
            update(Trade)
            .where(Trade.id == trade_id, Trade.run_id.is_(None))
            .values(run_id=session_id)
        )


def session_status(engine: Engine, session_id: str) -> str | None:
    with engine.connect() as conn:
        status: str | None = conn.execute(select(Run.status).where(Run.id == session_id)).scalar()
    return status


def close_open_rows(engine: Engine, session_id: str, *, why: str) -> list[BarRow]:
    """A session ended: its orders that can no longer fill are settled (`expired` when still
    awaiting approval, `skipped` when decided), with `why`. Returns the rows changed."""
    changed: list[BarRow] = []
    for row in decisions(engine, session_id, statuses=OPEN_BAR_STATUSES):
        if row.order_request is None:
            continue
        status = "expired" if row.status == "awaiting_approval" else "skipped"
        done = update_decision(engine, row.id, only_from=(row.status,), status=status, detail=why)
        if done is not None:
            changed.append(done)
    return changed


def replay_clock(engine: Engine, portfolio_id: int) -> datetime | None:
    """The clock a portfolio lives on: the close of the last bar processed by the newest replay
    session trading into it (its holdings are valued at prices known then, never later ones);
    None when no replay session has processed a bar for it (wall time: the latest prices)."""
    from tools.intervals import interval_ms

    with engine.connect() as conn:
        newest = conn.execute(
            select(Run.id, Run.interval, Run.params)
            .where(Run.kind == "session", Run.portfolio_id == portfolio_id)
            .order_by(Run.created_at.desc())
            .limit(1)
        ).first()
        if newest is None or not (newest.params or {}).get("replay_from"):
            return None
        bar_ms = conn.execute(
            select(func.max(SessionTick.bar_ms)).where(SessionTick.session_id == newest.id)
        ).scalar()
    if bar_ms is None:
        return None
    return datetime.fromtimestamp((bar_ms + interval_ms(newest.interval)) / 1000, tz=UTC)
