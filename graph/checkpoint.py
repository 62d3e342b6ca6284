"""Checkpointers for the desk: thread id = run id, so a run whose process died resumes from
its last completed step, and a paused run (human approval) resumes later.

- Postgres `DATABASE_URL` → `AsyncPostgresSaver` on a one-connection pool of its own
  (autocommit, dict rows, as langgraph-checkpoint-postgres requires; the connection checked
  when taken, so a lost one is replaced, not reused), tables created by `.setup()` in
  the same database.
- SQLite `DATABASE_URL` → `AsyncSqliteSaver` in a SEPARATE file next to the database
  (`<db stem>-checkpoints.db`, the same file the API opens): checkpoint writes never contend
  with the firm's own writers.
- In-memory SQLite → `InMemorySaver` (tests).
Async savers are created inside the running event loop, as they must be.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.engine import make_url

from persistence.db import normalise_url

# One process-wide saver for in-memory databases, so a paused run can still be resumed later
# in the same process (tests, throw-away demos).
_MEMORY_SAVER = InMemorySaver()


def sqlite_checkpoint_path(database_url: str) -> Path | None:
    """Where the SQLite checkpoints live for a SQLite database URL (None: in memory)."""
    url = make_url(database_url)
    if not url.database or url.database == ":memory:":
        return None
    db = Path(url.database).resolve()
    return db.with_name(db.stem + "-checkpoints.db")


def postgres_conninfo(database_url: str) -> str:
    """SQLAlchemy URL → libpq URL for psycopg (drop the `+psycopg` driver suffix)."""
    url = make_url(normalise_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


SETUP_LOCK_KEY = 7_312_024_112
"""Advisory lock: API replicas and workers starting together on a fresh database would
otherwise race on the saver's CREATE TABLEs."""


async def _setup_once(conninfo: str, saver: BaseCheckpointSaver[str]) -> None:
    """`saver.setup()` under the advisory lock. The lock is polled with short
    `pg_try_advisory_lock` statements, never waited for in one: the saver's migrations include
    CREATE INDEX CONCURRENTLY, which waits for every open transaction — a process blocked in
    `pg_advisory_lock` is one, so a blocking wait deadlocks the holder (found with three
    workers starting on a fresh database: they hung for good)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as lock:
        while True:
            cur = await lock.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK_KEY,))
            row = await cur.fetchone()
            if row and row[0]:
                break
            await asyncio.sleep(0.2)
        await saver.setup()  # type: ignore[attr-defined]


def uses_postgres(database_url: str) -> bool:
    return make_url(normalise_url(database_url)).get_backend_name() == "postgresql"


@asynccontextmanager
async def open_checkpointer(database_url: str) -> AsyncIterator[BaseCheckpointSaver[str]]:
    backend = make_url(normalise_url(database_url)).get_backend_name()
    if backend == "postgresql":
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        conninfo = postgres_conninfo(database_url)
        # A pool of one connection, checked when taken, not the saver's bare connection: that
        # one, once lost (Postgres restarted, a backend terminated), failed every later
        # checkpoint read of the process until it was restarted. One is all the saver uses:
        # it holds its own lock around every use of the connection.
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=1,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="checkpoints",
        )
        await pool.open(wait=True, timeout=30)
        try:
            pg_saver = AsyncPostgresSaver(conn=pool)
            await _setup_once(conninfo, pg_saver)
            yield pg_saver
        finally:
            await pool.close()
        return
    if backend != "sqlite":
        raise ValueError(
            f"DATABASE_URL backend {backend!r} has no checkpointer (sqlite|postgresql)"
        )
    path = sqlite_checkpoint_path(database_url)
    if path is None:
        yield _MEMORY_SAVER
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    # Off the event loop: `langgraph dev` (blockbuster) aborts on blocking calls inside it.
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        yield saver
