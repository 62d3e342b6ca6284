"""`langgraph dev` serves the checkpointer-free desk from langgraph.json; driven with
langgraph-sdk: create a thread, stream a run, read the final state."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    """`langgraph dev` on a free port, offline settings; stopped afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'studio.db'}",
        "DATA_SOURCE": "synthetic",
        "LLM_PROVIDER": "rules",
    }
    cli = Path(sys.executable).with_name("langgraph")
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(cli),
                "dev",
                "--no-browser",
                "--no-reload",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
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


@pytest.mark.studio
@pytest.mark.slow
async def test_langgraph_dev_serves_the_desk(dev_server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=dev_server)
    thread = await client.threads.create()
    seen: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "cryptofirm_desk",
        input={"symbol": "BTCUSDT", "interval": "1h"},
        stream_mode="updates",
    ):
        if part.event == "updates" and isinstance(part.data, dict):
            seen.extend(part.data)
    assert {
        "prepare",
        "technical",
        "sentiment",
        "tokenomics",
        "researcher",
        "trader",
        "risk_manager",
        "risk_gate",
        "execute",
    } <= set(seen)
    state = await client.threads.get_state(thread["thread_id"])
    values = state["values"]
    assert values["decision"]["action"] in ("buy", "sell", "hold")
    names = [m.get("name") for m in values["messages"]]
    assert len(names) == 6 and "risk_manager" in names
