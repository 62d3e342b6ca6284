"""API streaming and queue benchmark on the topology of a deployment: a throw-away Postgres
database, two `cryptofirm serve --no-worker` API processes and two `cryptofirm worker`
processes (rules engine, synthetic data, all on 127.0.0.1).

- start → first event: runs POSTed on one API, streamed from the other; time from the POST to
  the first SSE event (queue, a worker's pick-up, the event's commit and the NOTIFY wake-up),
  one run at a time, then 50 at once;
- attach → first event, 50 and 500 concurrent SSE streams split across the two APIs, opened
  all at once on 50 runs a worker has started, running or done (the queue wait is not
  counted: this is the relays' own latency: read the store, relay, wait for NOTIFY), then
  again on the same 50 runs once finished (no worker competing for the CPU), each
  timed from its own request; errors = any non-2xx, a stream not ending in `run_finished`, or
  seqs that are not 1..n exactly once; p50/p95 in ms. Streams are read by `bench.sse_load`,
  a client that costs much less than the server it measures (see there);
- jobs/s: RUNS_FOR_THROUGHPUT analyses POSTed at once, until all are completed.

Postgres: CRYPTOFIRM_BENCH_PG (admin DSN, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
import uvloop

from bench.sse_load import read_stream

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("cryptofirm"))
ADMIN_DSN = os.environ.get("CRYPTOFIRM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SEQUENTIAL_RUNS = 10
STREAM_COUNTS = (50, 500)
RUNS_FOR_THROUGHPUT = 100
WORKER_CONCURRENCY = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(label: str, ms: list[float], errors: list[str]) -> None:
    if not ms:
        print(f"{label}: no successful stream; errors {len(errors)} {errors[:3]}")
        return
    print(
        f"{label}: errors {len(errors)} {errors[:3]}; time to first event "
        f"p50 {statistics.median(ms):.1f} ms, p95 {_pct(ms, 0.95):.1f} ms, max {max(ms):.1f} ms"
    )


class Topology:
    """The database and the four processes."""

    def __init__(self, tmp: Path) -> None:
        import psycopg

        self.tmp = tmp
        self.dbname = f"cryptofirm_bench_{uuid.uuid4().hex[:10]}"
        self.admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
        self.admin.execute(f'CREATE DATABASE "{self.dbname}"')
        base = ADMIN_DSN.rsplit("/", 1)[0]
        self.url = f"{base}/{self.dbname}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "DATA_SOURCE": "synthetic",
            "LLM_PROVIDER": "rules",
            "API_RATE_LIMIT_PER_MINUTE": "1000000",
            "WEB_OUT_DIR": str(tmp / "no-web"),
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("API_KEY", None)  # the benchmark measures streaming, not auth
        self.procs: list[subprocess.Popen[bytes]] = []
        subprocess.run([CLI, "migrate"], env=self.env, cwd=tmp, check=True, capture_output=True)

    def start(self) -> list[str]:
        for _ in range(2):
            self._spawn([CLI, "worker", "--concurrency", str(WORKER_CONCURRENCY)])
        bases = []
        for _ in range(2):
            port = _free_port()
            self._spawn([CLI, "serve", "--port", str(port), "--no-worker"])
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            self._wait_ready(base)
        return bases

    def _spawn(self, cmd: list[str]) -> None:
        log = open(self.tmp / f"proc-{len(self.procs)}.log", "wb")  # noqa: SIM115
        self.procs.append(subprocess.Popen(cmd, env=self.env, cwd=self.tmp, stdout=log, stderr=log))

    def _wait_ready(self, base: str) -> None:
        deadline = time.monotonic() + 300  # four processes importing LangChain at once
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{base} did not become ready")

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        self.admin.close()


async def _start(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"})
    response.raise_for_status()
    return str(response.json()["run_id"])


async def _stream(
    client: httpx.AsyncClient, run_id: str, since: float | None = None
) -> tuple[float, str | None]:
    """(ms from `since` — default: this request — to the first event, error) reading the
    stream to its end."""
    offset = 0.0 if since is None else (time.perf_counter() - since) * 1000
    first, events, status = await read_stream(
        str(client.base_url), f"/api/analysis/runs/{run_id}/events"
    )
    if status != 200:
        return 0.0, f"GET events {status}"
    if not events or events[-1][1] != "run_finished":
        return first, f"stream ended on {events[-1][1] if events else None!r}"
    if [seq for seq, _ in events] != list(range(1, len(events) + 1)):
        return first, "seqs not 1..n exactly once"
    return offset + first, None


async def _until_started(client: httpx.AsyncClient, runs: list[str]) -> None:
    """Until every run has its first event persisted (a worker has taken it)."""
    waiting = set(runs)
    while waiting:
        for run_id in list(waiting):
            detail = (await client.get(f"/api/analysis/runs/{run_id}")).json()
            if detail["last_event_seq"] >= 1:
                waiting.discard(run_id)
        await asyncio.sleep(0.2)


async def _start_then_stream(
    a: httpx.AsyncClient, b: httpx.AsyncClient
) -> tuple[float, str | None]:
    since = time.perf_counter()
    run_id = await _start(a)
    return await _stream(b, run_id, since)


def _split(
    results: Sequence[tuple[float, str | None] | BaseException],
) -> tuple[list[float], list[str]]:
    ms = [r[0] for r in results if not isinstance(r, BaseException) and r[1] is None]
    errors = [repr(r) if isinstance(r, BaseException) else str(r[1]) for r in results]
    return ms, [e for e in errors if e != "None"]


async def _measure(bases: list[str]) -> None:
    timeout = httpx.Timeout(300.0)
    # Every request on a connection of its own: uvicorn closes a connection idle for 5 s, and
    # httpx reusing one at that moment reads nothing (`ReadError('')`, 1-6 per run here) — a
    # client keep-alive race, not a server fault (with no reuse: 0 errors in every phase).
    limits = httpx.Limits(max_connections=600, max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(base_url=bases[0], timeout=timeout, limits=limits) as a,
        httpx.AsyncClient(base_url=bases[1], timeout=timeout, limits=limits) as b,
    ):
        clients = (a, b)
        await _start_then_stream(a, b)  # warm-up: first graph build in each worker
        await _start_then_stream(b, a)
        sequential = [await _start_then_stream(a, b) for _ in range(SEQUENTIAL_RUNS)]
        _summary(
            f"start on A → stream on B, {SEQUENTIAL_RUNS} runs one at a time", *_split(sequential)
        )

        concurrent = await asyncio.gather(
            *(_start_then_stream(clients[i % 2], clients[1 - i % 2]) for i in range(50)),
            return_exceptions=True,
        )
        _summary("start → first event, 50 runs at once", *_split(concurrent))

        for count in STREAM_COUNTS:
            runs = await asyncio.gather(*(_start(clients[i % 2]) for i in range(50)))
            await _until_started(a, runs)  # running or done: the queue wait is not counted
            # Twice: on runs under way (the workers busy with them on the same cores), then —
            # every stream having read its run to the end — on the same runs finished.
            for state in ("runs under way", "the same runs finished"):
                results = await asyncio.gather(
                    *(_stream(clients[i % 2], runs[i % len(runs)]) for i in range(count)),
                    return_exceptions=True,
                )
                _summary(
                    f"{count} concurrent SSE streams across 2 APIs (attach → first event, {state})",
                    *_split(results),
                )

        started = time.perf_counter()
        posted = await asyncio.gather(
            *(_start(clients[i % 2]) for i in range(RUNS_FOR_THROUGHPUT)), return_exceptions=True
        )
        enqueued = time.perf_counter() - started
        runs = [r for r in posted if isinstance(r, str)]
        waits = await asyncio.gather(
            *(_stream(clients[i % 2], r, started) for i, r in enumerate(runs)),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
        failed = [repr(p) for p in posted if not isinstance(p, str)] + _split(waits)[1]
        print(
            f"queue: {RUNS_FOR_THROUGHPUT} runs enqueued in {enqueued:.2f} s "
            f"({RUNS_FOR_THROUGHPUT / enqueued:.0f} jobs/s accepted), all finished in "
            f"{wall:.1f} s ({RUNS_FOR_THROUGHPUT / wall:.1f} runs/s through 2 workers x "
            f"{WORKER_CONCURRENCY}); errors {len(failed)} {sorted(set(failed))[:5]}"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp_dir:
        topology = Topology(Path(tmp_dir))
        try:
            bases = topology.start()
            # The client on uvloop (as uvicorn runs the APIs): measured here, the asyncio loop
            # of a client reading 50 streams cost as much CPU as the servers it measures, on
            # the same two cores.
            uvloop.run(_measure(bases))
        finally:
            topology.close()


if __name__ == "__main__":
    main()
