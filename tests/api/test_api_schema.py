"""The OpenAPI contract: the committed web/openapi.json is current, the event models are in
it, and schemathesis finds no server error on any operation (bounded, deterministic)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app
from api.openapi import DEFAULT_PATH, render
from core.settings import Settings


def _restore_many_more() -> None:
    """hypothesis-jsonschema 0.23.1 (schemathesis' body generator) drives object generation
    with `cu.many(...).more()`, which hypothesis 6.170 replaced by a `with many(...)` / `for`
    protocol. This adapter gives `many` its old `more()` on top of the new protocol (same
    draws, same span bookkeeping: `more()` is one step of the for loop). Remove it once
    hypothesis-jsonschema supports the new API."""
    from hypothesis.internal.conjecture import utils as cu

    if hasattr(cu.many, "more"):
        return

    def more(self: Any) -> bool:
        steps = self.__dict__.get("_compat_steps")
        if steps is None:
            self.__enter__()
            steps = self.__dict__["_compat_steps"] = iter(self)
        try:
            next(steps)
        except StopIteration:
            self.__exit__(None)
            return False
        return True

    cu.many.more = more  # type: ignore[attr-defined]


_restore_many_more()
DOCUMENT = json.loads(render())
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_committed_openapi_file_is_current() -> None:
    assert DEFAULT_PATH.is_file(), "run `python -m api.openapi` and commit web/openapi.json"
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(), (
        "web/openapi.json is stale: run `python -m api.openapi`"
    )


def test_event_models_and_sse_routes_are_documented() -> None:
    components = DOCUMENT["components"]["schemas"]
    for name in ("RunStarted", "Token", "Decision", "Progress", "RunFinished", "RunEvent"):
        assert name in components
    assert {"$ref": "#/components/schemas/Token"} in components["RunEvent"]["oneOf"]
    for path in ("/api/analysis/runs/{run_id}/events", "/api/backtests/{run_id}/events"):
        content = DOCUMENT["paths"][path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["text/event-stream"]
    assert components["HTTPValidationError"] == {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server for the whole fuzz run (starting runs is rate-limited to 2 a minute,
    so fuzzing cannot flood the machine with background runs)."""
    import socket
    import threading
    import time

    import uvicorn

    tmp = tmp_path_factory.mktemp("schema")
    app: FastAPI = create_app(
        Settings(  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp / 'fuzz.db'}",
            data_source="synthetic",
            llm_provider="rules",
            web_out_dir=tmp / "no-web",
            api_rate_limit_per_minute=2,
            _env_file=None,
        )
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@schema.parametrize()
@settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=[not_a_server_error], timeout=30)
