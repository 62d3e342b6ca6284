"""What an SSE relay reads, in ONE statement: the run's kind and status and its events after a
seq, the events' JSON bodies as stored text (sent on as they are, never decoded and
re-encoded). One statement is one snapshot: a terminal event is never seen with an older
status (the recorder commits both together), and the 404 check costs no extra query.

Two readers of the same statement:
- `ThreadedRelayReader`: the SQLAlchemy engine in a worker thread (SQLite, tests);
- `PostgresRelayReader`: an async psycopg pool on the event loop. An API process holding many
  relays must not hop to a thread per read: the threads and the loop then queue for the GIL
  (5 ms switch interval) and 25 concurrent attaches took ~150 ms to read what one read
  takes in ~3 ms. Reads asked for in the same turn of the loop (a burst of attaches, the
  tails of many runs woken by one another's commits) go to Postgres as ONE statement
  (`BATCH_SQL`: the same read per (run, seq, limit), laterally joined): one round trip and one
  snapshot for the batch, whatever the number of relays.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine, Select, Text, bindparam, cast, select

from persistence.models import Run, RunEvent


@dataclass(frozen=True)
class RelayRead:
    kind: str | None
    """The run's kind; None when there is no such run."""
    status: str | None
    events: list[tuple[int, str, str]] = field(default_factory=list)
    """(seq, type, data as JSON text) after the seq asked for, in order, at most `limit`."""


def _statement() -> Select[tuple[str, str, int, str, str]]:
    event = RunEvent.__table__.alias("e")
    return (
        select(Run.kind, Run.status, event.c.seq, event.c.type, cast(event.c.data, Text))
        .select_from(
            Run.__table__.outerjoin(
                event,
                (event.c.run_id == Run.id) & (event.c.seq > bindparam("after_seq")),
            )
        )
        .where(Run.id == bindparam("run_id"))
        .order_by(event.c.seq)
        .limit(bindparam("limit"))
    )


RELAY_STATEMENT = _statement()


def _relay_read(rows: list[tuple[str, str, int | None, str | None, str | None]]) -> RelayRead:
    if not rows:
        return RelayRead(kind=None, status=None)
    kind, status = rows[0][0], rows[0][1]
    events = [(seq, type_, data) for _, _, seq, type_, data in rows if seq is not None]
    return RelayRead(kind=kind, status=status, events=events)  # type: ignore[arg-type]


def read_for_relay(engine: Engine, run_id: str, after_seq: int, limit: int) -> RelayRead:
    """`RELAY_STATEMENT` on the engine, outside a transaction (one statement, one trip)."""
    params = {"run_id": run_id, "after_seq": after_seq, "limit": limit}
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = conn.execute(RELAY_STATEMENT, params)
        return _relay_read([tuple(r) for r in rows])  # type: ignore[misc]


class RelayReader(Protocol):
    async def read(self, run_id: str, after_seq: int, limit: int) -> RelayRead: ...


class ThreadedRelayReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def read(self, run_id: str, after_seq: int, limit: int) -> RelayRead:
        return await asyncio.to_thread(read_for_relay, self.engine, run_id, after_seq, limit)


BATCH_SQL = f"""
SELECT q.i, r.kind, r.status, e.seq, e.type, e.data::text
FROM unnest(%(run_ids)s::text[], %(after_seqs)s::int[], %(limits)s::int[])
     WITH ORDINALITY AS q(run_id, after_seq, lim, i)
LEFT JOIN {Run.__tablename__} r ON r.id = q.run_id
LEFT JOIN LATERAL (
    SELECT ev.seq, ev.type, ev.data FROM {RunEvent.__tablename__} ev
    WHERE ev.run_id = q.run_id AND ev.seq > q.after_seq
    ORDER BY ev.seq LIMIT q.lim
) e ON r.id IS NOT NULL
ORDER BY q.i, e.seq
"""
"""`RELAY_STATEMENT` for many reads at once: row `i` of the arrays is read `i` (1-based)."""
MAX_BATCH = 256
"""Reads per statement; a larger burst goes as several statements."""


@dataclass
class _Pending:
    run_id: str
    after_seq: int
    limit: int
    answer: asyncio.Future[RelayRead]


class PostgresRelayReader:
    """Open it (`async with`) on the event loop that will use it. `read` may be called from
    many tasks at once: the reads asked for before the next turn of the loop share one
    statement (a batch in flight does not hold back the next: each has its connection)."""

    def __init__(self, conninfo: str, *, max_size: int = 8) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=min(2, max_size),
            max_size=max_size,
            kwargs={"autocommit": True},
            check=AsyncConnectionPool.check_connection,  # a lost connection is replaced
            open=False,
            name="sse-relays",
        )
        self._pending: list[_Pending] = []
        self._gathering: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self.statements = 0
        """Statements sent so far (tests and benchmarks: reads per statement)."""

    async def __aenter__(self) -> PostgresRelayReader:
        await self._pool.open(wait=True, timeout=30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._batches):
            task.cancel()
        await self._pool.close()

    async def read(self, run_id: str, after_seq: int, limit: int) -> RelayRead:
        answer: asyncio.Future[RelayRead] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(run_id, after_seq, limit, answer))
        if self._gathering is None:
            self._gathering = asyncio.create_task(self._batch(), name="relay-read-batch")
            self._batches.add(self._gathering)
            self._gathering.add_done_callback(self._batches.discard)
        return await answer

    async def _batch(self) -> None:
        """Run when the loop next gets to it: the reads asked for meanwhile are this batch."""
        self._gathering = None
        batch, self._pending = self._pending, []
        for start in range(0, len(batch), MAX_BATCH):
            part = [p for p in batch[start : start + MAX_BATCH] if not p.answer.done()]
            if not part:
                continue
            try:
                reads = await self._execute(part)
            except Exception as exc:  # every read of the batch fails with it
                for p in batch[start:]:
                    if not p.answer.done():
                        p.answer.set_exception(exc)
                return
            except BaseException:  # cancelled (the reader closing): no one waits forever
                for p in batch[start:]:
                    p.answer.cancel()
                raise
            for p, read in zip(part, reads, strict=True):
                if not p.answer.done():
                    p.answer.set_result(read)

    async def _execute(self, part: list[_Pending]) -> list[RelayRead]:
        params = {
            "run_ids": [p.run_id for p in part],
            "after_seqs": [p.after_seq for p in part],
            "limits": [p.limit for p in part],
        }
        async with self._pool.connection() as conn:
            cursor = await conn.execute(BATCH_SQL, params, prepare=True)  # type: ignore[arg-type]
            rows = await cursor.fetchall()
        self.statements += 1
        by_read: dict[int, list[tuple[str, str, int | None, str | None, str | None]]]
        by_read = defaultdict(list)
        for i, kind, status, seq, type_, data in rows:
            if kind is not None:  # no such run: no row of its own
                by_read[i].append((kind, status, seq, type_, data))
        return [_relay_read(by_read.get(k + 1, [])) for k in range(len(part))]
