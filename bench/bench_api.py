"""API streaming benchmark: a real uvicorn subprocess on a free 127.0.0.1 port with a temp
SQLite database, the rules engine and synthetic data (offline).

- SSE time to first event: POST a run, attach to its stream, time until the first event
  arrives (median over N sequential runs);
- 50 concurrent streams: 50 runs started at once, one SSE client on each, read to the end;
  errors = any non-2xx, a missing `run_finished`, or seqs that are not 1..n exactly once.
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
from pathlib import Path

import httpx

from api.sse_client import aparse_sse_lines

ROOT = Path(__file__).resolve().parent.parent
SEQUENTIAL_RUNS = 10
CONCURRENT_STREAMS = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "DATA_SOURCE": "synthetic",
        "LLM_PROVIDER": "rules",
        "API_RATE_LIMIT_PER_MINUTE": "100000",
        "WEB_OUT_DIR": str(tmp / "no-web"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("API_KEY", None)  # the benchmark measures streaming, not auth
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("uvicorn did not become ready in 60 s")


async def _one_run(client: httpx.AsyncClient) -> tuple[float, float, list[int], str | None]:
    """(time to first event, time to last event, seqs, error)."""
    started = time.perf_counter()
    response = await client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"})
    if response.status_code != 202:
        return 0.0, 0.0, [], f"POST {response.status_code}"
    run_id = response.json()["run_id"]
    first = 0.0
    seqs: list[int] = []
    last_type = ""
    async with client.stream("GET", f"/api/analysis/runs/{run_id}/events") as stream:
        if stream.status_code != 200:
            return 0.0, 0.0, [], f"GET events {stream.status_code}"
        async for event in aparse_sse_lines(stream.aiter_lines()):
            if not seqs:
                first = time.perf_counter() - started
            seqs.append(event.id or 0)
            last_type = event.event
    total = time.perf_counter() - started
    error = None
    if last_type != "run_finished":
        error = f"stream ended on {last_type!r}"
    elif seqs != list(range(1, len(seqs) + 1)):
        error = "seqs not 1..n exactly once"
    return first, total, seqs, error


async def _measure(base: str) -> None:
    timeout = httpx.Timeout(120.0)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        await _one_run(client)  # warm-up: first graph build, first synthetic series
        sequential = [await _one_run(client) for _ in range(SEQUENTIAL_RUNS)]
        seq_errors = [r[3] for r in sequential if r[3]]
        ttfe = [r[0] * 1000 for r in sequential]
        run_ms = [r[1] * 1000 for r in sequential]
        print(f"sequential runs: {SEQUENTIAL_RUNS}, errors: {len(seq_errors)} {seq_errors[:3]}")
        print(
            f"SSE time to first event: median {statistics.median(ttfe):.1f} ms "
            f"(min {min(ttfe):.1f}, max {max(ttfe):.1f})"
        )
        print(f"whole run over SSE:      median {statistics.median(run_ms):.1f} ms")

        started = time.perf_counter()
        results = await asyncio.gather(
            *(_one_run(client) for _ in range(CONCURRENT_STREAMS)), return_exceptions=True
        )
        wall = time.perf_counter() - started
        errors = [r if isinstance(r, BaseException) else r[3] for r in results]
        errors = [e for e in errors if e]
        ok = [r for r in results if not isinstance(r, BaseException) and not r[3]]
        events = sum(len(r[2]) for r in ok)
        conc_ttfe = [r[0] * 1000 for r in ok]
        print(
            f"{CONCURRENT_STREAMS} concurrent streams: errors {len(errors)} {errors[:3]}, "
            f"{events} events in {wall:.2f} s ({events / wall:.0f} events/s)"
        )
        if conc_ttfe:
            median_conc = statistics.median(conc_ttfe)
            print(
                f"  time to first event under load: median {median_conc:.1f} ms "
                f"(ratio to sequential median: {median_conc / statistics.median(ttfe):.1f}x)"
            )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp_dir:
        port = _free_port()
        proc = _start_server(Path(tmp_dir), port)
        try:
            asyncio.run(_measure(f"http://127.0.0.1:{port}"))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
