"""The OpenAPI contract: the committed web/openapi.json is current, the event models are in
it, and schemathesis — over the whole schema, every check, positive and negative data, against
a real server on SQLite and on the real Postgres (where NUL bytes and 64-bit integers used to be
500s) — finds no server error, no schema-invalid request accepted and no schema-valid request
rejected, except by the rules JSON Schema cannot state (`core.bounds.RUNTIME_RULES`: a time
relative to now, a rule between two fields), which answer 422 with that error type. Bounded
(max examples) and deterministic."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import create_app
from api.openapi import DEFAULT_PATH, render
from core.bounds import RUNTIME_RULES
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


PG_ADMIN_DSN = os.environ.get("CRYPTOFIRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class SchemaValidRejected(Failure):
    pass


@schemathesis.check
def schema_valid_accepted(ctx: CheckContext, response: Any, case: schemathesis.Case) -> bool:
    """positive_data_acceptance, except a 422 whose every error is a documented runtime rule,
    and a 429 (the run-start rate limit is not a judgement on the data)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    if response.status_code == 429:
        return True
    if response.status_code == 422:
        errors = json.loads(response.content).get("errors") or []
        if errors and all(e["type"] in RUNTIME_RULES for e in errors):
            return True
    if response.status_code in {400, 405, 406, 413, 415, 422}:
        raise SchemaValidRejected(
            operation=case.operation.label,
            title="Schema-valid request rejected",
            message=f"{response.status_code}: {response.content[:500]!r}",
        )
    return True


def _serve(settings: Settings) -> Iterator[str]:
    import uvicorn

    app = create_app(settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _settings(database_url: str, tmp: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        data_source="synthetic",
        llm_provider="rules",
        web_out_dir=tmp / "no-web",
        api_rate_limit_per_minute=2,  # fuzzing must not flood the machine with runs
        _env_file=None,
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        yield from _serve(_settings(f"sqlite:///{tmp / 'fuzz.db'}", tmp))
        return
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"no Postgres at {PG_ADMIN_DSN}: {exc} (CI=true: must run)")
        pytest.skip(f"no Postgres at {PG_ADMIN_DSN}")
    name = f"cryptofirm_fuzz_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN_DSN.rpartition('/')[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    try:
        yield from _serve(_settings(url, tmp))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@schema.parametrize()
@settings(max_examples=6, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(
        base_url=base_url,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_accepted],
        timeout=30,
    )
