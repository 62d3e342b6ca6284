"""SSE relays: a run's persisted events to its streaming clients, from any API process.

A run's relays in one process share one `_Tail`: one reader task that registers for wake-ups
(`firm.hub`: a recorder in this process, or Postgres NOTIFY from any process), reads the run's
events after the last one it has (`persistence.relay_reads`: events, kind and status in one
statement), encodes each as an SSE frame once, and waits for the next wake-up (or
`poll_seconds`, in case a notification was lost). A relay ends after a `run_finished` event
once the run is no longer pending/running — a paused run's stream ends at its pause; an
approved run (status running again) keeps streaming the resumed events. Since a run's terminal
event and final status are committed together, a relay never ends early nor misses the last
events.

A client's backlog goes out in few writes (`MAX_FRAMES_PER_WRITE` events each), not one write
and one trip through the middleware per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from firm.hub import RunHub
from firm.runs import ACTIVE
from persistence.relay_reads import RelayRead, RelayReader

TERMINAL_EVENT = "run_finished"
FIRST_PAGE = 64
"""A new relay's first read: enough for the first write, so the client's first events go out
before the rest of a long backlog is read (the tail reads the rest right after)."""
PAGE = 2000
"""Events per read after the first: a session's 100,000-event history is read in pages."""
COALESCE_SECONDS = 0.01
"""After a wake-up a tail waits this long before it reads: a run's commits in quick
succession are one read, and the tails of the runs woken meanwhile one batched statement
(`persistence.relay_reads`), for 10 ms more on a live event (none on a first event)."""
MAX_FRAMES_PER_WRITE = 256
"""A relay sends what it has in writes of at most this many events and lets the other relays
of the process write between two of them: one client's backlog (a session's thousands of
ticks) never holds back another client's first event."""


def sse_frame(seq: int, type_: str, data: str) -> bytes:
    """One event as an SSE frame: `event:` = type, `id:` = seq, `data:` = the JSON body as
    stored (one line: stored JSON is never indented; re-encoded if it ever were)."""
    if "\n" in data or "\r" in data:
        data = json.dumps(json.loads(data), separators=(",", ":"))
    return f"id: {seq}\r\nevent: {type_}\r\ndata: {data}\r\n\r\n".encode()


@dataclass
class _Tail:
    """The events of one run read so far in this process, shared by its relays."""

    kind: str
    frames: list[bytes] = field(default_factory=list)
    """The events read so far as SSE frames (frames[k] has seq k + 1), encoded once per
    process whatever the number of relays."""
    last_type: str | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    finished: bool = False
    error: BaseException | None = None
    users: int = 0
    task: asyncio.Task[None] | None = None

    def add(self, read: RelayRead, *, more: bool) -> None:
        """Append a read; `more`: it was a full page (a paused run's `run_finished` may end
        one page and the resumed run's events follow on the next)."""
        self.frames.extend(sse_frame(*e) for e in read.events)
        if read.events:
            self.last_type = read.events[-1][1]
        self.finished = not more and self.last_type == TERMINAL_EVENT and read.status not in ACTIVE


class EventRelays:
    """The relays of one API process (all on its event loop)."""

    def __init__(self, reader: RelayReader, hub: RunHub, *, poll_seconds: float = 2.0) -> None:
        self.reader = reader
        self.hub = hub
        self.poll_seconds = poll_seconds
        self._tails: dict[str, _Tail] = {}

    async def open(self, run_id: str, kind: str, after_seq: int) -> AsyncIterator[bytes] | None:
        """The SSE bytes of run `run_id` after `after_seq`, or None when there is no run of
        `kind` with that id. A run no relay of this process follows yet is read once here —
        that read is both the existence check and the stream's first events."""
        tail = self._live(run_id)
        if tail is None:
            waiter = self.hub.register(run_id)  # before the read: a commit after it wakes us
            try:
                read = await self.reader.read(run_id, 0, FIRST_PAGE)
            except BaseException:
                self.hub.unregister(run_id, waiter)
                raise
            if read.kind != kind:
                self.hub.unregister(run_id, waiter)
                return None
            tail = self._live(run_id)  # another relay may have started one meanwhile
            if tail is None:
                more = len(read.events) == FIRST_PAGE
                tail = self._start(run_id, _Tail(kind=kind), read, waiter, more=more)
            else:
                self.hub.unregister(run_id, waiter)
        elif tail.kind != kind:
            return None
        tail.users += 1  # now, not when the stream starts: the tail must outlive this relay
        return self._frames(run_id, tail, after_seq)

    @property
    def waiting(self) -> int:
        return self.hub.waiting

    @property
    def following(self) -> int:
        """Runs this process has a tail following (each with its reader task)."""
        return len(self._tails)

    # --- internals ----------------------------------------------------------------------

    def _live(self, run_id: str) -> _Tail | None:
        tail = self._tails.get(run_id)
        return None if tail is None or tail.finished else tail

    def _start(
        self, run_id: str, tail: _Tail, read: RelayRead, waiter: asyncio.Event, *, more: bool
    ) -> _Tail:
        """Only a tail still followed is kept in `_tails` (its relays hold it otherwise): a
        finished run's frames go with its last relay, even one whose client never read."""
        tail.add(read, more=more)
        if not tail.finished:
            self._tails[run_id] = tail
            follow = self._follow(run_id, tail, waiter, more=more)
            tail.task = asyncio.create_task(follow, name=f"tail:{run_id}")
        else:
            self.hub.unregister(run_id, waiter)
        return tail

    async def _frames(self, run_id: str, tail: _Tail, after_seq: int) -> AsyncIterator[bytes]:
        # aclosing: a client gone closes this relay's slices at once, not when collected
        async with contextlib.aclosing(self._slices(run_id, tail, after_seq)) as slices:
            async for start, end in slices:
                yield b"".join(tail.frames[start:end])
                await asyncio.sleep(0)  # the other relays' turn (see MAX_FRAMES_PER_WRITE)

    async def _slices(
        self, run_id: str, tail: _Tail, after_seq: int
    ) -> AsyncGenerator[tuple[int, int], None]:
        """(start, end): the next frames to relay are `tail.frames[start:end]`; the caller
        counted itself in `tail.users`."""
        position = after_seq
        try:
            while True:
                while position < len(tail.frames):
                    end = min(len(tail.frames), position + MAX_FRAMES_PER_WRITE)
                    yield position, end
                    position = end
                if tail.error is not None:
                    raise tail.error
                if tail.finished:
                    return
                async with tail.changed:
                    await tail.changed.wait_for(
                        lambda at=position: len(tail.frames) > at or tail.finished  # type: ignore[misc]
                    )
        finally:
            tail.users -= 1
            if tail.users == 0:
                if self._tails.get(run_id) is tail:
                    del self._tails[run_id]
                if tail.task is not None:
                    tail.task.cancel()

    async def _follow(
        self, run_id: str, tail: _Tail, waiter: asyncio.Event | None, *, more: bool
    ) -> None:
        """Read on every wake-up until the run has finished. `waiter`: registered before the
        tail's first read, so the first wait sees a commit made since; `more`: that read was
        a full page, read on without waiting."""
        try:
            while True:
                if waiter is None:
                    waiter = self.hub.register(run_id)
                    read = await self.reader.read(run_id, len(tail.frames), PAGE)
                    more = len(read.events) == PAGE
                    async with tail.changed:
                        tail.add(read, more=more)
                        tail.changed.notify_all()
                    if tail.finished:
                        return
                if not more:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter.wait(), self.poll_seconds)
                    if waiter.is_set():
                        await asyncio.sleep(COALESCE_SECONDS)
                self.hub.unregister(run_id, waiter)
                waiter = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the relays end with the error instead of hanging
            async with tail.changed:
                tail.error, tail.finished = exc, True
                tail.changed.notify_all()
        finally:
            if waiter is not None:
                self.hub.unregister(run_id, waiter)
            if tail.finished and self._tails.get(run_id) is tail:
                del self._tails[run_id]  # no longer followed: the next relay reads afresh
