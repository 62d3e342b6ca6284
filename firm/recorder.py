"""Record one run's events: sequence numbers, token batches, the terminal transaction.

Every event gets the run's next sequence number (continuing after those already persisted, so
a run resumed by approval or after a dead worker keeps one ordered stream) and is written to
`run_events` before anyone is woken: relays read the database, never this process's memory.
A `trade` event for a fill the stream already reported (a resumed run re-ran the node whose
idempotent fill was reported before the crash) is dropped: one fill, one event.
Token events are numerous: they are written in batches (a batch is flushed when a non-token
event arrives, when it reaches `max_batch`, or `flush_interval` after its first token).

The end of a run is one transaction: any ledger fill of the run still without its `trade`
event (a worker died between the fill and its event), the `run_finished` event and the run's
final row (`RunRowUpdate` from the runner, or the status the event carries). A source that
raises ends `failed` with the reason; a cancelled recording ends `cancelled` unless the caller
says the cancellation is a shutdown (then the run is left for recovery, nothing terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from graph.events import ErrorEvent, RunFinished, TradeEvent
from graph.run_row import RunRowUpdate
from persistence.events import (
    StoredEvent,
    append_events,
    last_seq,
    reported_trade_ids,
    trades_without_event,
)

logger = logging.getLogger("firm.recorder")

TERMINAL_EVENT = "run_finished"


class _End:
    """Sentinel: the run's event source is exhausted."""


@dataclass
class _Failure:
    error: BaseException


_END = _End()


@dataclass
class RunRecorder:
    """Writes the events of `run_id` from one source; `wake(run_id)` after every commit."""

    engine: Engine
    run_id: str
    wake: Callable[[str], None] = lambda _run_id: None
    flush_interval: float = 0.05
    max_batch: int = 500
    next_seq: int = 0
    final_status: str | None = None
    pending: list[StoredEvent] = field(default_factory=list)
    """Stamped events not yet written (a token batch in the making)."""
    reported_trades: set[int] = field(default_factory=set)
    """Trade ids with a `trade` event in the stream (persisted or pending)."""
    _row: dict[str, Any] | None = None

    async def record(
        self,
        source: AsyncIterator[Any],
        *,
        on_cancel: Callable[[], bool] = lambda: True,
        drain_on_cancel: bool = False,
    ) -> str | None:
        """Drain `source` into the store; returns the run's final status (None when a
        shutdown interrupted it). `on_cancel()` is asked first when the recording is
        cancelled: True = a user cancelled the run (it ends `cancelled`), False = a shutdown
        (nothing terminal is written: recovery resumes the run). With `drain_on_cancel` a
        user's cancel lets the source finish by itself (a backtest stops within a bar and
        reports its partial result) instead of cutting it off."""
        self.next_seq = await asyncio.to_thread(last_seq, self.engine, self.run_id) + 1
        self.reported_trades = await asyncio.to_thread(reported_trade_ids, self.engine, self.run_id)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(source, queue))
        try:
            await self._write_loop(queue)
        except asyncio.CancelledError:
            user = on_cancel()
            if user and drain_on_cancel:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._write_loop(queue))
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            if user and self.final_status is None:
                await asyncio.shield(self._close("cancelled", None))
            raise
        except Exception as exc:  # a store failure must end the run visibly, not silently
            logger.exception("run %s: event pipeline failed", self.run_id)
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            if self.final_status is None:
                await self._close("failed", f"event store: {exc}")
        return self.final_status

    async def _produce(self, source: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> None:
        try:
            async for event in source:
                await queue.put(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("run %s: event source failed", self.run_id)
            await queue.put(_Failure(exc))
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
            await queue.put(_END)

    async def _write_loop(self, queue: asyncio.Queue[Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                await self._flush()
                deadline = None
                continue
            if isinstance(item, _End):
                break
            if isinstance(item, RunRowUpdate):
                self._row = dict(item.values)
                continue
            if isinstance(item, _Failure):
                if self.final_status is None:
                    error = f"{type(item.error).__name__}: {item.error}"
                    await self._close("failed", error)
                continue
            if self.final_status is not None:
                logger.warning("run %s: %s after run_finished dropped", self.run_id, item.type)
                continue
            if item.type == TERMINAL_EVENT:
                await self._finish(item)
                deadline = None
                continue
            if isinstance(item, TradeEvent) and item.trade_id is not None:
                if item.trade_id in self.reported_trades:
                    # A resumed run re-ran a node whose fill (idempotent in the ledger) was
                    # reported before the crash: one fill, one event.
                    logger.info("run %s: trade %s already reported", self.run_id, item.trade_id)
                    continue
                self.reported_trades.add(item.trade_id)
            self.pending.append(self._stamp(item))
            if item.type != "token" or len(self.pending) >= self.max_batch:
                await self._flush()
                deadline = None
            elif deadline is None:
                deadline = loop.time() + self.flush_interval
        await self._flush()

    def _stamp(self, event: Any) -> StoredEvent:
        stored = StoredEvent(
            run_id=self.run_id,
            seq=self.next_seq,
            type=event.type,
            data=event.model_dump(mode="json"),
        )
        self.next_seq += 1
        return stored

    async def _flush(self, run_update: dict[str, Any] | None = None) -> None:
        batch, self.pending = self.pending, []
        if not batch and run_update is None:
            return
        await asyncio.to_thread(append_events, self.engine, batch, run_update=run_update)
        self.wake(self.run_id)

    async def _finish(self, finished: Any) -> None:
        """The terminal transaction: missing trade events, `run_finished`, the run row."""
        missing = await asyncio.to_thread(
            trades_without_event, self.engine, self.run_id, self.reported_trades
        )
        for trade in missing:
            self.reported_trades.add(trade.id)
            self.pending.append(
                self._stamp(
                    TradeEvent(
                        run_id=self.run_id,
                        portfolio_id=trade.portfolio_id,
                        trade_id=trade.id,
                        symbol=trade.symbol,
                        side=trade.side,  # type: ignore[arg-type]
                        quantity=float(trade.quantity),
                        price=float(trade.price),
                        fee=float(trade.fee),
                    )
                )
            )
        status = str(finished.status)
        row = self._row or {}
        row.setdefault("status", status)
        if status != "paused":
            row.setdefault("finished_at", datetime.now(UTC))
        row["updated_at"] = datetime.now(UTC)
        self.pending.append(self._stamp(finished))
        await self._flush(run_update=row)
        self.final_status = status

    async def _close(self, status: str, error: str | None) -> None:
        """End a run the source could not end itself (failure, cancellation)."""
        try:
            if error is not None:
                self.pending.append(self._stamp(ErrorEvent(run_id=self.run_id, message=error)))
            self._row = {"status": status, "error": error}
            await self._finish(RunFinished(run_id=self.run_id, status=status))  # type: ignore[arg-type]
        except Exception:
            logger.exception("run %s: could not record its end (%s)", self.run_id, status)
