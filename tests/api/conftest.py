"""API fixtures: an app on a temp SQLite database (offline: store/synthetic data, rules
engine), a TestClient running its lifespan, and a fake runner for pipeline-only tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.runners import AnalysisStart
from core.settings import Settings
from graph.events import AgentOutput, NodeStarted, RunFinished, RunStarted, Token


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Validated settings on a temp SQLite file; keyword arguments override fields."""
    base: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'api.db'}",
        "data_source": "synthetic",
        "llm_provider": "rules",
        "web_out_dir": tmp_path / "no-web",
        "sse_ping_seconds": 1.0,
    }

    def build(**overrides: Any) -> Settings:
        return Settings(**{**base, **overrides}, _env_file=None)  # type: ignore[arg-type]

    return build


@pytest.fixture
def api_settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def make_client(settings_factory: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Build a started TestClient; keyword arguments override settings fields."""
    clients: list[TestClient] = []

    def build(runner: Any = None, **overrides: Any) -> TestClient:
        app = create_app(settings_factory(**overrides))
        if runner is not None:
            app.state.analysis_runner = runner
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


class ScriptedRunner:
    """A stand-in for the desk: a fixed script of events with optional pauses between them,
    so the event pipeline (seq, persistence, fan-out, resume) is tested in isolation."""

    def __init__(self, tokens: int = 40, delay: float = 0.0, fail_after: int | None = None):
        self.tokens = tokens
        self.delay = delay
        self.fail_after = fail_after
        self.resumed: list[tuple[str, bool, str]] = []

    async def start(self, run_id: str, request: AnalysisStart) -> AsyncIterator[Any]:
        yield RunStarted(
            run_id=run_id,
            kind="analysis",
            symbol=request.symbol,
            interval=request.interval,
            model_cheap="rules",
            model_strong="rules",
        )
        for node in ("technical", "sentiment"):
            yield NodeStarted(run_id=run_id, node=node)
        for i in range(self.tokens):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("scripted failure")
            node = ("technical", "sentiment")[i % 2]
            yield Token(run_id=run_id, node=node, message_id=f"m-{node}", text=f"t{i} ")
            if self.delay:
                await asyncio.sleep(self.delay)
        yield AgentOutput(run_id=run_id, node="technical", model="rules", output={"score": 1})
        yield RunFinished(run_id=run_id, status="completed")

    async def resume(self, run_id: str, *, approved: bool, note: str) -> AsyncIterator[Any]:
        self.resumed.append((run_id, approved, note))
        yield RunFinished(run_id=run_id, status="completed")


@pytest.fixture
def scripted_app(settings_factory: Callable[..., Settings]) -> Callable[..., FastAPI]:
    def build(runner: Any, **overrides: Any) -> FastAPI:
        app = create_app(settings_factory(**overrides))
        app.state.analysis_runner = runner
        return app

    return build


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], str]]:
    """Run an app under a real uvicorn on a free 127.0.0.1 port (true streaming, real
    disconnects); returns its base URL. Servers stop at the end of the test."""
    import socket
    import threading
    import time

    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def scripted() -> type[ScriptedRunner]:
    return ScriptedRunner
