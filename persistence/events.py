"""The `run_events` store: every event a run emits, in order, so SSE clients can resume.

The run's recorder (`firm.recorder`, in whichever worker executes the run) assigns each run's
sequence numbers (1, 2, 3, …) and writes events in batches; `(run_id, seq)` is unique, so a
batch written twice fails loudly instead of duplicating. On Postgres every batch also sends
`NOTIFY cryptofirm_run_events, '<run_id>'` in its own transaction (delivered at commit), the
wake-up for SSE relays in every API process; the rows stay the source of truth.
The terminal event and the run's final row are committed together (`append_events(...,
run_update=...)`), so no reader ever sees a finished run whose events stop short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.metrics import observe_run_event
from persistence.models import Run, RunEvent, Trade

NOTIFY_CHANNEL = "cryptofirm_run_events"


class StoredEvent(BaseModel):
    """One persisted event: `type` is the SSE event name, `seq` its id, `data` the JSON body."""

    run_id: str
    seq: int
    type: str
    data: dict[str, Any]


def notify_run(conn: Connection, run_id: str) -> None:
    """Wake SSE relays of `run_id` in every process (Postgres; sent when `conn` commits)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :run_id)"),
            {"channel": NOTIFY_CHANNEL, "run_id": run_id},
        )


def append_events(
    engine: Engine,
    events: Sequence[StoredEvent],
    *,
    run_update: dict[str, Any] | None = None,
) -> None:
    """Insert a batch of events in one transaction (one round trip with executemany); with
    `run_update`, the run's row gets those values in the same transaction."""
    if not events and run_update is None:
        return
    rows = [{"run_id": e.run_id, "seq": e.seq, "type": e.type, "data": e.data} for e in events]
    run_ids = {e.run_id for e in events}
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(RunEvent), rows)
        if run_update is not None:
            (run_id,) = run_ids
            conn.execute(update(Run).where(Run.id == run_id).values(**run_update))
        for run_id in sorted(run_ids):
            notify_run(conn, run_id)
    _export_metrics(engine, events)


_run_kinds: dict[str, str] = {}
"""Kind of the runs this process has seen start (until they finish): their metrics label."""


def _export_metrics(engine: Engine, events: Sequence[StoredEvent]) -> None:
    """Feed core/metrics.py from the events just written (tokens are skipped quickly)."""
    for event in events:
        if event.type == "token":
            continue
        if event.type == "run_started":
            _run_kinds[event.run_id] = str(event.data.get("kind", "unknown"))
        kind = _run_kinds.get(event.run_id)
        if kind is None:  # a run resumed in this process after starting elsewhere
            with engine.connect() as conn:
                found = conn.execute(select(Run.kind).where(Run.id == event.run_id)).scalar()
            kind = _run_kinds[event.run_id] = str(found or "unknown")
        observe_run_event(event.type, event.data, kind, event.run_id)
        if event.type == "run_finished":
            _run_kinds.pop(event.run_id, None)


def reported_trade_ids(engine: Engine, run_id: str) -> set[int]:
    """Trades of `run_id` that already have a persisted `trade` event."""
    with engine.connect() as conn:
        return {
            int(data["trade_id"])
            for data in conn.execute(
                select(RunEvent.data).where(RunEvent.run_id == run_id, RunEvent.type == "trade")
            ).scalars()
            if data.get("trade_id") is not None
        }


def trades_without_event(engine: Engine, run_id: str, reported: set[int]) -> list[Trade]:
    """Ledger fills of `run_id` not among `reported` (the trade ids its stream has an event
    for; a worker died between a fill's commit and its event): the recorder emits them
    before `run_finished`."""
    with Session(engine, expire_on_commit=False) as session:
        trades = session.scalars(select(Trade).where(Trade.run_id == run_id).order_by(Trade.id))
        return [t for t in trades if t.id not in reported]


def read_events(
    engine: Engine, run_id: str, *, after_seq: int = 0, limit: int | None = None
) -> list[StoredEvent]:
    """Events of a run with `seq > after_seq`, in sequence order."""
    query = (
        select(RunEvent.seq, RunEvent.type, RunEvent.data)
        .where(RunEvent.run_id == run_id, RunEvent.seq > after_seq)
        .order_by(RunEvent.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [
            StoredEvent(run_id=run_id, seq=seq, type=type_, data=data)
            for seq, type_, data in conn.execute(query)
        ]


def last_seq(engine: Engine, run_id: str) -> int:
    """Highest persisted sequence number of a run (0 when it has none yet)."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)
        ).scalar_one()
    return int(value or 0)
