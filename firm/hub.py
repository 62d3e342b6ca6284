"""Wake-ups for SSE relays: "run X has new rows", never the rows themselves.

`RunHub` is one process's registry of waiting relays. It is woken directly by a recorder in
the same process (the embedded worker) and, on Postgres, by `listen_forever`: one LISTEN
connection per process on `persistence.events.NOTIFY_CHANNEL`, whose payload is the run id.
A relay re-reads `run_events` after every wake-up (and at least every `poll_seconds`, in case
a notification was lost while the listener reconnected): the table is the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from persistence.events import NOTIFY_CHANNEL

logger = logging.getLogger("firm.hub")


class RunHub:
    """run id → waiting relays of this process (all on one event loop)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, run_id: str) -> asyncio.Event:
        """Register BEFORE reading the database: a commit after the read then sets it."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(event)
        return event

    def unregister(self, run_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(run_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[run_id]

    def wake(self, run_id: str) -> None:
        for event in list(self._waiters.get(run_id, ())):
            event.set()

    def wake_threadsafe(self, run_id: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake, run_id)

    def wake_all(self) -> None:
        for run_id in list(self._waiters):
            self.wake(run_id)

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())


async def listen_forever(conninfo: str, hub: RunHub, *, retry_seconds: float = 1.0) -> None:
    """LISTEN on Postgres and wake the hub for each notified run; reconnects until cancelled
    (every relay is woken after a reconnect, so none waits on a lost notification)."""
    while True:
        try:
            await _listen(conninfo, hub)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("run-event listener lost its connection (%s); reconnecting", exc)
            hub.wake_all()
            await asyncio.sleep(retry_seconds)


async def _listen(conninfo: str, hub: RunHub) -> None:
    """One LISTEN connection until it fails. Its socket stays registered with the event loop
    and each time it is readable every notification received is drained at once (libpq's
    consume_input/notifies). psycopg's `notifies()` registers the socket, arms a timer and
    unregisters it again for every packet: with 16 runs committing events, that bookkeeping
    cost an API process more CPU than the SSE streams it served."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        hub.wake_all()  # anything committed before LISTEN was not notified to us
        pgconn, loop = conn.pgconn, asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            try:
                pgconn.consume_input()
                while (note := pgconn.notifies()) is not None:
                    hub.wake(note.extra.decode())
            except Exception as exc:  # consume_input raises once the connection is gone
                if not lost.done():
                    lost.set_exception(exc)

        fd = pgconn.socket
        loop.add_reader(fd, readable)
        try:
            await lost
        finally:
            loop.remove_reader(fd)


@contextlib.asynccontextmanager
async def listening(conninfo: str | None, hub: RunHub):  # type: ignore[no-untyped-def]
    """Run `listen_forever` for the duration of the block (nothing on SQLite: None)."""
    if conninfo is None:
        yield
        return
    task = asyncio.create_task(listen_forever(conninfo, hub), name="run-event-listener")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
