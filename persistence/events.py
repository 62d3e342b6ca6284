"""The `run_events` store: every event a run emits, in order, so SSE clients can resume.

The API assigns each run's sequence numbers (1, 2, 3, …) and writes events in batches;
`(run_id, seq)` is unique, so a batch written twice fails loudly instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, func, insert, select

from core.metrics import observe_run_event
from persistence.models import Run, RunEvent


class StoredEvent(BaseModel):
    """One persisted event: `type` is the SSE event name, `seq` its id, `data` the JSON body."""

    run_id: str
    seq: int
    type: str
    data: dict[str, Any]


def append_events(engine: Engine, events: Sequence[StoredEvent]) -> None:
    """Insert a batch of events in one transaction (one round trip with executemany)."""
    if not events:
        return
    rows = [{"run_id": e.run_id, "seq": e.seq, "type": e.type, "data": e.data} for e in events]
    with engine.begin() as conn:
        conn.execute(insert(RunEvent), rows)
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
