"""The API's LangGraph checkpointer, opened inside the running event loop (lifespan).

Postgres: an `AsyncPostgresSaver` over a psycopg pool (autocommit, dict rows — what the saver
requires) with `.setup()` run once. SQLite: an `AsyncSqliteSaver` on a file next to the
database file. Readiness (`GET /api/ready`) probes whichever is open.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core.settings import Settings
from persistence.db import normalise_url


def checkpoint_sqlite_path(database_url: str) -> str:
    url = make_url(normalise_url(database_url))
    if not url.database or url.database == ":memory:":
        return ":memory:"
    db = Path(url.database)
    return str(db.with_name(db.stem + "-checkpoints.db"))


def postgres_conninfo(database_url: str) -> str:
    url = make_url(normalise_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def open_checkpointer(stack: AsyncExitStack, settings: Settings) -> Any:
    if settings.is_postgres:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            postgres_conninfo(settings.database_url),
            min_size=1,
            max_size=10,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": 0},
        )
        await pool.open(wait=True, timeout=10)
        stack.push_async_callback(pool.close)
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        return saver

    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    sqlite_saver = await stack.enter_async_context(
        AsyncSqliteSaver.from_conn_string(checkpoint_sqlite_path(settings.database_url))
    )
    await sqlite_saver.setup()
    return sqlite_saver


async def probe_checkpointer(checkpointer: Any) -> None:
    """Raise when the checkpointer cannot answer a read."""
    await checkpointer.aget_tuple({"configurable": {"thread_id": "__readiness_probe__"}})
