"""`langgraph dev` mounts the FastAPI app (`langgraph.json` → `http.app`) beside the graph:
`/api/health` and `/api/ready` answer from our app (its lifespan ran: database migrated,
checkpointer open), while the Agent Server's own routes still work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount
from studio_server import ROOT, langgraph_dev


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
    with langgraph_dev(tmp_path, database="server.db") as url:
        yield url


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
