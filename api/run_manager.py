"""The API's handle on runs: enqueue, answer and cancel them as jobs (`firm.jobs`), and relay
their persisted events to SSE clients (`api.relays`). Nothing here lives only in this
process: any replica can start, stream, approve, reject or cancel any run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import Engine, select

from api.relays import EventRelays
from firm.hub import RunHub
from firm.jobs import RunQueue
from firm.runs import ACTIVE, claim_for_answer, run_status
from persistence.models import Run
from persistence.relay_reads import RelayReader, ThreadedRelayReader


class RunManager:
    """Created in the app lifespan around the process's run queue and wake-up hub."""

    def __init__(
        self,
        engine: Engine,
        queue: RunQueue,
        hub: RunHub,
        *,
        reader: RelayReader | None = None,
        poll_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.hub = hub
        self.poll_seconds = poll_seconds
        self.relays = EventRelays(
            reader or ThreadedRelayReader(engine), hub, poll_seconds=poll_seconds
        )

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

    async def relay(self, run_id: str, kind: str, after_seq: int) -> AsyncIterator[bytes] | None:
        """SSE bytes of a run of `kind` after `after_seq`; None: no such run (`api.relays`)."""
        return await self.relays.open(run_id, kind, after_seq)
