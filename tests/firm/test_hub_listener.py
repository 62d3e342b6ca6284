"""The Postgres wake-up path on its own: `listen_forever` wakes the relays of each notified
run (one notification, several in one commit, many runs at once), and after its connection
is killed it reconnects and wakes every relay (a notification may have been lost)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from firm.hub import RunHub, listen_forever
from graph.checkpoint import postgres_conninfo
from persistence.events import NOTIFY_CHANNEL

pytestmark = pytest.mark.postgres


async def _notify(conninfo: str, *run_ids: str) -> None:
    """One transaction notifying each run id (delivered together at commit)."""
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        for run_id in run_ids:
            await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, run_id))
        await conn.commit()


async def _woken(event: asyncio.Event) -> bool:
    try:
        await asyncio.wait_for(event.wait(), 5)
    except TimeoutError:
        return False
    return True


async def test_listener_wakes_notified_runs_and_all_after_a_reconnect(pg_empty_url: str) -> None:
    conninfo = postgres_conninfo(pg_empty_url)
    hub = RunHub()
    first = hub.register("run-a")  # woken by the listener's first LISTEN (wake_all)
    task = asyncio.create_task(listen_forever(conninfo, hub, retry_seconds=0.1))
    try:
        assert await _woken(first)
        hub.unregister("run-a", first)

        a, b, other = hub.register("run-a"), hub.register("run-b"), hub.register("run-c")
        await _notify(conninfo, "run-a", "run-b")
        assert await _woken(a) and await _woken(b)
        assert not other.is_set()  # only the runs notified
        for event, run_id in ((a, "run-a"), (b, "run-b"), (other, "run-c")):
            hub.unregister(run_id, event)

        many = {f"run-{k}": hub.register(f"run-{k}") for k in range(200)}
        for k in range(0, 200, 20):  # ten commits of twenty runs each
            await _notify(conninfo, *[f"run-{j}" for j in range(k, k + 20)])
        assert all(await asyncio.gather(*(_woken(e) for e in many.values())))
        for run_id, event in many.items():
            hub.unregister(run_id, event)

        # Kill the listener's backend: it reconnects, wakes every relay, and listens again.
        waiting = hub.register("run-z")
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
            )
        assert await _woken(waiting)
        hub.unregister("run-z", waiting)
        again = hub.register("run-y")
        await asyncio.sleep(0.5)  # the new connection's LISTEN is in place
        again.clear()  # (the reconnect's own wake-up may have set it)
        await _notify(conninfo, "run-y")
        assert await _woken(again)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
