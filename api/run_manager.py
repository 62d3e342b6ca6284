"""The API's handle on runs: enqueue, answer and cancel them as jobs (`firm.jobs`), and relay
their persisted events to SSE clients. Nothing here lives only in this process: any replica
can start, stream, approve, reject or cancel any run.

A relay registers for wake-ups first (`firm.hub`: a recorder in this process, or Postgres
NOTIFY from any process), then reads `run_events` after its resume point, relays, and waits
for the next wake-up (or `poll_seconds`, in case a notification was lost). It ends after a
`run_finished` event once the run is no longer pending/running — a paused run's stream ends
at its pause; an approved run (status running again) keeps streaming the resumed events.
Since a run's terminal event and final status are committed together, a relay never ends
early nor misses the last events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from firm.hub import RunHub
from firm.jobs import RunQueue
from firm.runs import ACTIVE, claim_for_answer, run_status
from persistence.events import StoredEvent, read_events
from persistence.models import Run

TERMINAL_EVENT = "run_finished"


@dataclass
class _Tail:
    """The events of one run read so far in this process, shared by its relays."""

    events: list[StoredEvent] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    finished: bool = False
    error: BaseException | None = None
    users: int = 0
    task: asyncio.Task[None] | None = None


class RunManager:
    """Created in the app lifespan around the process's run queue and wake-up hub."""

    def __init__(
        self, engine: Engine, queue: RunQueue, hub: RunHub, *, poll_seconds: float = 2.0
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.hub = hub
        self.poll_seconds = poll_seconds
        self._tails: dict[str, _Tail] = {}

    # --- starting, answering and stopping -----------------------------------------------

    async def start(self, run_id: str, kind: str) -> None:
        """Enqueue the job of a new run (its row exists, status pending)."""
        await self.queue.enqueue(run_id, kind)

    async def answer(self, run_id: str, *, approved: bool, note: str) -> bool:
        """Resume a paused analysis with a human's answer; False when it was not paused
        (exactly one of concurrent approvals/rejections, on any replicas, wins)."""
        if not await asyncio.to_thread(claim_for_answer, self.engine, run_id):
            return False
        self.hub.wake(run_id)
        await self.queue.enqueue(run_id, "analysis", answer={"approved": approved, "note": note})
        return True

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run on whatever worker; False when it had already finished."""
        job_id = await asyncio.to_thread(self._job_id, run_id)
        return await self.queue.cancel(run_id, job_id)

    def _job_id(self, run_id: str) -> int | None:
        with self.engine.connect() as conn:
            job_id: int | None = conn.execute(select(Run.job_id).where(Run.id == run_id)).scalar()
        return job_id

    async def wait(self, run_id: str, within: float = 120.0) -> str | None:
        """Until the run is no longer pending/running (tests, benchmarks); its status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            waiter = self.hub.register(run_id)
            try:
                status = await asyncio.to_thread(run_status, self.engine, run_id)
                if status not in ACTIVE or loop.time() > deadline:
                    return status
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), min(self.poll_seconds, 0.5))
            finally:
                self.hub.unregister(run_id, waiter)

    # --- relaying -----------------------------------------------------------------------

    async def subscribe(self, run_id: str, after_seq: int = 0) -> AsyncIterator[StoredEvent]:
        """Persisted events after `after_seq`, then new ones as they are committed, until
        the run has finished (see the module docstring). All relays of one run in this
        process share one reader (`_Tail`): one query per wake-up, not one per client."""
        tail = self._tails.get(run_id)
        if tail is None or tail.finished:
            tail = self._tails[run_id] = _Tail()
            tail.task = asyncio.create_task(self._follow(run_id, tail), name=f"tail:{run_id}")
        tail.users += 1
        position = after_seq  # events[k] has seq k + 1: the tail reads every run from seq 1
        try:
            while True:
                while position < len(tail.events):
                    yield tail.events[position]
                    position += 1
                if tail.error is not None:
                    raise tail.error
                if tail.finished:
                    return
                async with tail.changed:
                    await tail.changed.wait_for(
                        lambda at=position: len(tail.events) > at or tail.finished  # type: ignore[misc]
                    )
        finally:
            tail.users -= 1
            if tail.users == 0:
                if self._tails.get(run_id) is tail:
                    del self._tails[run_id]
                if tail.task is not None:
                    tail.task.cancel()

    async def _follow(self, run_id: str, tail: _Tail) -> None:
        last_type: str | None = None
        try:
            while True:
                waiter = self.hub.register(run_id)
                try:
                    after = len(tail.events)
                    events = await asyncio.to_thread(
                        read_events, self.engine, run_id, after_seq=after
                    )
                    if events:
                        tail.events.extend(events)
                        last_type = events[-1].type
                    finished = False
                    if last_type == TERMINAL_EVENT:
                        status = await asyncio.to_thread(run_status, self.engine, run_id)
                        finished = status not in ACTIVE
                    async with tail.changed:
                        tail.finished = finished
                        tail.changed.notify_all()
                    if finished:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter.wait(), self.poll_seconds)
                finally:
                    self.hub.unregister(run_id, waiter)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the relays end with the error instead of hanging
            async with tail.changed:
                tail.error, tail.finished = exc, True
                tail.changed.notify_all()

    @property
    def relays(self) -> int:
        return self.hub.waiting

    def stats(self) -> dict[str, Any]:
        return {"relays_waiting": self.hub.waiting}
