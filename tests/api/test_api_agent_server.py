"""`langgraph dev` mounts the FastAPI app (`langgraph.json` → `http.app`) beside the graph:
`/api/health` and `/api/ready` answer from our app (its lifespan ran: database migrated,
checkpointer open), while the Agent Server's own routes still work."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_mounts_the_api_without_the_ui() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    module, _, attribute = config["http"]["app"].partition(":")
    assert (ROOT / module).is_file()
    from api import main

    app = getattr(main, attribute)
    assert "/api/health" in app.openapi()["paths"]
    # A mount at "/" (the UI) would shadow /threads, /runs, /ok of the Agent Server.
    assert not [r for r in app.routes if isinstance(r, Mount)]
    web_exported = main.app.state.settings.web_out_dir.is_dir()
    assert bool([r for r in main.app.routes if isinstance(r, Mount)]) == web_exported


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}",
        "DATA_SOURCE": "synthetic",
        "LLM_PROVIDER": "rules",
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
def test_agent_server_serves_the_api_beside_the_graph(agent_server: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=agent_server, timeout=30) as client:
        health = client.get("/api/health")
        assert health.status_code == 200, health.text
        ready = client.get("/api/ready")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ready" and body["database"]["ok"]
        assert body["llm_provider"] == "rules" and body["data_source"] == "synthetic"
        assert (tmp_path / "server.db").is_file()  # our lifespan migrated the database
        assert client.get("/api/nope").status_code == 404
        # The Agent Server's own routes are not shadowed.
        thread = client.post("/threads", json={})
        assert thread.status_code == 200, thread.text
        assert "thread_id" in thread.json()
        assert client.post("/assistants/search", json={}).status_code == 200
