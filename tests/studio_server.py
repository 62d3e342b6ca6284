"""Start `langgraph dev` (the Agent Server of langgraph.json) for a test: free port, offline
settings, a SQLite database in the test's tmp dir; stopped when the `with` block ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 90  # first start compiles the graph and runs our lifespan on a 2-core box


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def langgraph_dev(
    tmp_path: Path, *, database: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Yield the base URL once `/ok` answers; a server that exits or never answers fails the
    test with the tail of its log. `database` is the SQLite file name under `tmp_path`; `env`
    overrides the offline defaults (e.g. DATA_SOURCE=store for stored candles)."""
    port = free_port()
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / database}",
        "DATA_SOURCE": "synthetic",
        "LLM_PROVIDER": "rules",
        **(env or {}),
    }
    cli = Path(sys.executable).with_name("langgraph")
    log_path = tmp_path / "server.log"
    args = ["dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(cli), *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
