"""Processes starting together on a fresh Postgres database all get a ready checkpointer.

The saver's migrations run CREATE INDEX CONCURRENTLY, which waits for every open transaction;
a starter blocked inside `pg_advisory_lock` is one, so a blocking wait for the setup lock hung
three workers for good (the fault suite found it). Here three starters race in one process:
with the blocking wait this hangs past the timeout."""

from __future__ import annotations

import asyncio

import pytest

from graph.checkpoint import open_checkpointer

pytestmark = pytest.mark.postgres


async def _open_and_use(url: str, started: asyncio.Event) -> list[str]:
    async with open_checkpointer(url) as saver:
        started.set()
        config = {"configurable": {"thread_id": "none-yet"}}
        return [c.config["configurable"]["thread_id"] async for c in saver.alist(config)]  # type: ignore[arg-type]


async def test_three_starters_on_a_fresh_database_all_get_a_saver(pg_empty_url: str) -> None:
    events = [asyncio.Event() for _ in range(3)]
    results = await asyncio.wait_for(
        asyncio.gather(*(_open_and_use(pg_empty_url, e) for e in events)), timeout=90
    )
    assert results == [[], [], []]
    assert all(e.is_set() for e in events)
