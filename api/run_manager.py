"""Background runs, independent of any HTTP connection, with persisted and fanned-out events.

Every event gets the run's next sequence number and is written to `run_events` BEFORE it is
published to live subscribers, so a subscriber can always fill a gap from the database.
Token events are numerous: they are written in batches (a batch is flushed when a non-token
event arrives, when it reaches `max_batch`, or `flush_interval` after its first token), which
keeps one insert per batch instead of one per token while keeping the order.

A subscriber registers for live events first, then reads the persisted ones after its
`Last-Event-ID`, then relays live ones, dropping any seq it has already sent: nothing is
missed in the window between the read and the live relay, and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, update

from core.logging import bind_log_context
from graph.events import ErrorEvent, RunFinished
from persistence.events import StoredEvent, append_events, last_seq, read_events
from persistence.models import Run

logger = logging.getLogger("api.runs")

TERMINAL_EVENT = "run_finished"
ACTIVE_STATUSES = ("pending", "running")


class RunEventLike(Protocol):
    """What a run yields: a `graph.events` model (has a `type` and dumps to JSON)."""

    @property
    def type(self) -> str: ...

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


EventSourceFactory = Callable[[], AsyncIterator[Any]]


class _End:
    """Sentinel: the run's event source is exhausted."""


@dataclass
class _Failure:
    error: BaseException


_END = _End()


@dataclass
class LiveRun:
    run_id: str
    kind: str
    next_seq: int
    task: asyncio.Task[None] | None = None
    subscribers: set[asyncio.Queue[StoredEvent | _End]] = field(default_factory=set)
    finished_event_seen: bool = False
    pending: list[StoredEvent] = field(default_factory=list)
    """Stamped events not yet written (a token batch in the making)."""


class RunManager:
    """Owns the asyncio tasks of runs started through the API (created in the app lifespan)."""

    def __init__(
        self, engine: Engine, *, flush_interval: float = 0.05, max_batch: int = 500
    ) -> None:
        self.engine = engine
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._live: dict[str, LiveRun] = {}

    # --- starting and stopping ---------------------------------------------------------

    def is_active(self, run_id: str) -> bool:
        return run_id in self._live

    @property
    def active_count(self) -> int:
        return len(self._live)

    async def start(self, run_id: str, kind: str, source: EventSourceFactory) -> None:
        """Run `source()` in the background; sequence numbers continue after persisted ones
        (a resumed run — approval after a pause — keeps one ordered stream)."""
        if run_id in self._live:
            raise RuntimeError(f"run {run_id} is already active")
        first_seq = await asyncio.to_thread(last_seq, self.engine, run_id) + 1
        live = LiveRun(run_id=run_id, kind=kind, next_seq=first_seq)
        self._live[run_id] = live
        live.task = asyncio.create_task(self._drive(live, source), name=f"run:{run_id}")

    async def cancel(self, run_id: str) -> bool:
        """Cancel an active run's task; True when there was one."""
        live = self._live.get(run_id)
        if live is None or live.task is None:
            return False
        live.task.cancel()
        await asyncio.gather(live.task, return_exceptions=True)
        return True

    async def wait(self, run_id: str) -> None:
        """Wait until a run's background task has ended (tests, benchmarks, shutdown)."""
        live = self._live.get(run_id)
        if live is not None and live.task is not None:
            await asyncio.gather(live.task, return_exceptions=True)

    async def shutdown(self) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- subscribing -------------------------------------------------------------------

    async def subscribe(self, run_id: str, after_seq: int = 0) -> AsyncIterator[StoredEvent]:
        """Persisted events after `after_seq`, then live ones until the run's task ends."""
        live = self._live.get(run_id)
        queue: asyncio.Queue[StoredEvent | _End] | None = None
        if live is not None:
            # Register before reading the database: see the module docstring.
            queue = asyncio.Queue()
            live.subscribers.add(queue)
        try:
            sent = after_seq
            for event in await asyncio.to_thread(
                read_events, self.engine, run_id, after_seq=after_seq
            ):
                yield event
                sent = event.seq
            if queue is None:
                return
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    return
                if item.seq <= sent:
                    continue
                yield item
                sent = item.seq
        finally:
            if live is not None and queue is not None:
                live.subscribers.discard(queue)

    # --- the background task -----------------------------------------------------------

    async def _drive(self, live: LiveRun, source: EventSourceFactory) -> None:
        # This task's context (and the producer's, created below): every line logged for
        # this run carries its id.
        bind_log_context(run_id=live.run_id, run_kind=live.kind)
        logger.info("run %s started (%s)", live.run_id, live.kind)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(source, queue))
        try:
            await self._write_loop(live, queue)
        except asyncio.CancelledError:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            await asyncio.shield(self._close_interrupted(live, "cancelled"))
            raise
        except Exception as exc:  # a store failure must end the run visibly, not silently
            logger.exception("run %s: event pipeline failed", live.run_id)
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            await asyncio.to_thread(self._mark_failed, live.run_id, f"event store: {exc}")
        finally:
            logger.info("run %s: event stream closed", live.run_id)
            self._live.pop(live.run_id, None)
            for subscriber in list(live.subscribers):
                subscriber.put_nowait(_END)

    @staticmethod
    async def _produce(source: EventSourceFactory, queue: asyncio.Queue[Any]) -> None:
        stream = source()
        try:
            async for event in stream:
                await queue.put(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("run event source failed")
            await queue.put(_Failure(exc))
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
            await queue.put(_END)

    async def _write_loop(self, live: LiveRun, queue: asyncio.Queue[Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                await self._flush(live)
                deadline = None
                continue
            if isinstance(item, _End):
                break
            if isinstance(item, _Failure):
                events = self._failure_events(live, item.error)
                await asyncio.to_thread(self._mark_failed, live.run_id, str(item.error))
            else:
                events = [item]
            for event in events:
                live.pending.append(self._stamp(live, event))
            if any(e.type != "token" for e in events) or len(live.pending) >= self.max_batch:
                await self._flush(live)
                deadline = None
            elif deadline is None:
                deadline = loop.time() + self.flush_interval
        await self._flush(live)

    def _stamp(self, live: LiveRun, event: RunEventLike) -> StoredEvent:
        stored = StoredEvent(
            run_id=live.run_id,
            seq=live.next_seq,
            type=event.type,
            data=event.model_dump(mode="json"),
        )
        live.next_seq += 1
        if event.type == TERMINAL_EVENT:
            live.finished_event_seen = True
        return stored

    async def _flush(self, live: LiveRun) -> None:
        batch, live.pending = live.pending, []
        if not batch:
            return
        await asyncio.to_thread(append_events, self.engine, batch)
        for event in batch:
            for subscriber in live.subscribers:
                subscriber.put_nowait(event)

    def _failure_events(self, live: LiveRun, error: BaseException) -> list[RunEventLike]:
        if live.finished_event_seen:
            return []  # the run reported its own failure before raising
        message = f"run failed: {type(error).__name__}: {error}"
        return [
            ErrorEvent(run_id=live.run_id, message=message),
            RunFinished(run_id=live.run_id, status="failed"),
        ]

    async def _close_interrupted(self, live: LiveRun, status: str) -> None:
        """A cancelled task (cancel route or shutdown) still ends its stream properly."""
        if not live.finished_event_seen:
            finished = RunFinished(run_id=live.run_id, status="cancelled")
            live.pending.append(self._stamp(live, finished))
        try:
            await self._flush(live)
            await asyncio.to_thread(self._mark_status, live.run_id, status, None)
        except Exception:
            logger.exception("run %s: could not record cancellation", live.run_id)

    def _mark_failed(self, run_id: str, error: str) -> None:
        self._mark_status(run_id, "failed", error)

    def _mark_status(self, run_id: str, status: str, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(Run)
                .where(Run.id == run_id, Run.status.in_(ACTIVE_STATUSES))
                .values(status=status, error=error, finished_at=datetime.now(UTC))
            )
