"""Provider failures are visible: HTTP 500, a malformed body, a hang and a stream cut short,
served by a fault-injecting OpenAI-compatible server on 127.0.0.1. Each asserts the run's
status and reason (events, run row), the tokens accounted and the circuit breaker; the CLI's
exit code and message for a failed run and for a configuration error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fault_server import CUT_AFTER, FaultServer, serve_faults
from graph_fakes import NOW, StaticMarketData, StaticSentiment, collect
from sqlalchemy import Engine, select

from core.settings import ModelPrice, Settings, get_settings
from graph.runner import run_analysis
from graph.tokens import count_tokens
from persistence.db import init_db, session_scope
from persistence.models import AgentLog, Run
from tools.tokenomics import PointInTimeTokenomicsProvider

MODEL = "fault-model"
PRICE = ModelPrice(input_per_mtok=Decimal("1.00"), output_per_mtok=Decimal("2.00"))
ANALYSTS = ("technical", "sentiment", "tokenomics")


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    yield from serve_faults()


def settings_for(tmp_path: Path, url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'faults.db'}",
        "data_source": "synthetic",
        "llm_provider": "openai_compatible",
        "llm_base_url": url,
        "llm_api_key": "k",
        "llm_model_cheap": MODEL,
        "llm_model_strong": MODEL,
        "llm_prices": {MODEL: PRICE},
        "llm_timeout_s": 1.0,
        "llm_max_retries": 0,
        **extra,
    }
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


async def run(settings: Settings, run_id: str) -> tuple[list[Any], Engine]:
    engine = init_db(settings.database_url)
    overrides = {
        "market_data": StaticMarketData(),
        "sentiment": StaticSentiment(),
        "tokenomics": PointInTimeTokenomicsProvider(),  # NOW predates the offline table
        "now": NOW,
    }
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id=run_id,
            engine=engine,
            settings=settings,
            context_overrides=overrides,
        )
    )
    return events, engine


def rows(engine: Engine, run_id: str) -> list[AgentLog]:
    with session_scope(engine) as s:
        return list(s.scalars(select(AgentLog).where(AgentLog.run_id == run_id)))


def run_row(engine: Engine, run_id: str) -> Run:
    with session_scope(engine) as s:
        found = s.get(Run, run_id)
        assert found is not None
        s.expunge(found)
        return found


def outputs(events: list[Any]) -> dict[str, Any]:
    return {e.node: e for e in events if e.type == "agent_output"}


async def test_all_ok_completes(tmp_path: Path, faults: FaultServer) -> None:
    events, engine = await run(settings_for(tmp_path, faults.url), "ok-1")
    assert events[-1].status == "completed" and events[-1].reason is None
    assert len(faults.served) == 6
    logged = sum(r.prompt_tokens + r.completion_tokens for r in rows(engine, "ok-1"))
    assert logged == sum(s.prompt_tokens + s.completion_tokens for s in faults.served)


async def test_http_500_everywhere_opens_the_breaker_and_fails_the_run(
    tmp_path: Path, faults: FaultServer
) -> None:
    faults.faults = {agent: "http500" for agent in (*ANALYSTS, "researcher", "trader")}
    faults.faults["risk_manager"] = "http500"
    events, engine = await run(settings_for(tmp_path, faults.url), "500-1")
    finished = events[-1]
    assert finished.status == "failed"
    assert "could not be made" in (finished.reason or "")
    assert "circuit open" in (finished.reason or "") and "500" in (finished.reason or "")
    # Three transport failures (the analysts, in parallel) open the breaker: the deciders
    # never reach the server.
    assert len(faults.served) == 3 and {s.agent for s in faults.served} == set(ANALYSTS)
    out = outputs(events)
    assert all(out[a].fallback and out[a].error for a in out)
    assert "circuit open" in out["researcher"].error
    assert run_row(engine, "500-1").status == "failed"
    assert "circuit open" in (run_row(engine, "500-1").error or "")
    assert any(e.type == "error" and "could not be made" in e.message for e in events)
    logged = rows(engine, "500-1")
    assert len(logged) == 6 and not any(r.ok for r in logged)
    assert sum(r.prompt_tokens + r.completion_tokens for r in logged) == 0  # nothing served
    assert finished.cost_usd == 0


async def test_malformed_body_for_one_analyst_degrades_the_run(
    tmp_path: Path, faults: FaultServer
) -> None:
    faults.faults = {"technical": "malformed"}
    events, engine = await run(settings_for(tmp_path, faults.url), "bad-1")
    assert events[-1].status == "degraded"
    assert "technical" in (events[-1].reason or "") and "1 agent(s)" in (events[-1].reason or "")
    out = outputs(events)
    assert out["technical"].fallback and not out["sentiment"].fallback
    assert not out["trader"].fallback
    assert run_row(engine, "bad-1").status == "degraded"
    warning = [e for e in events if e.type == "error"]
    assert len(warning) == 1 and warning[0].severity == "warning"


async def test_hang_times_out_and_degrades(tmp_path: Path, faults: FaultServer) -> None:
    faults.faults = {"sentiment": "hang"}
    faults.hang_s = 3.0
    events, _ = await run(settings_for(tmp_path, faults.url, llm_timeout_s=0.5), "hang-1")
    assert events[-1].status == "degraded"
    out = outputs(events)["sentiment"]
    assert out.fallback and "Timeout" in (out.error or "")
    assert 400 <= out.latency_ms < 2500  # one timeout, not three retries of it


async def test_stream_cut_counts_what_was_streamed(tmp_path: Path, faults: FaultServer) -> None:
    faults.faults = {"trader": "cut"}
    events, engine = await run(settings_for(tmp_path, faults.url), "cut-1")
    assert events[-1].status == "failed" and "trader" in (events[-1].reason or "")
    out = outputs(events)["trader"]
    assert out.fallback and out.estimated_tokens and out.attempts == 1
    served = faults.requests("trader")[0]
    assert served.completion_tokens == CUT_AFTER
    # Accounted: the streamed text by the tokenizer, the prompt by the tokenizer.
    assert out.completion_tokens == count_tokens(MODEL, served.streamed) > 0
    assert out.prompt_tokens > 100
    assert out.cost_usd > 0
    row = next(r for r in rows(engine, "cut-1") if r.agent == "trader")
    assert not row.ok and row.raw_output == served.streamed
    assert row.completion_tokens == out.completion_tokens and row.cost_usd > 0
    assert events[-1].completion_tokens >= out.completion_tokens


async def test_a_recovered_provider_resets_the_breaker(tmp_path: Path, faults: FaultServer) -> None:
    # Two failures, then answers: the count restarts, nobody is cut off.
    faults.faults = {("technical", 0): "http500", ("sentiment", 0): "http500"}
    events, _ = await run(settings_for(tmp_path, faults.url), "reset-1")
    assert events[-1].status == "degraded"
    assert not outputs(events)["researcher"].fallback


def test_breaker_is_shared_across_a_backtest(tmp_path: Path, faults: FaultServer) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backtest"))
    from bt_helpers import T0, random_walk_frame

    from graph.backtest.data import prepare_data
    from graph.backtest.runs import create_backtest_run, run_backtest
    from graph.backtest.schemas import BacktestParams

    faults.faults = {agent: "http500" for agent in (*ANALYSTS, "researcher", "trader")}
    faults.faults["risk_manager"] = "http500"
    settings = settings_for(tmp_path, faults.url, backtest_cost_cap_usd=Decimal(50))
    engine = init_db(settings.database_url)
    params = BacktestParams(symbol="BTCUSDT", interval="1h", start=T0, end=T0 + timedelta(hours=12))
    data = prepare_data(random_walk_frame(220), params, source="test")
    run_id = create_backtest_run(engine, params, settings=settings)
    with pytest.raises(Exception, match="circuit open"):
        run_backtest(engine, run_id, settings=settings, data=data)
    # One decision's three parallel analysts opened it; no later decision called the server.
    assert len(faults.served) == 3
    row = run_row(engine, run_id)
    assert row.status == "failed" and "circuit open" in (row.error or "")


def test_cli_failed_run_exits_1_with_the_reason(
    tmp_path: Path, faults: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    faults.faults = {agent: "http500" for agent in (*ANALYSTS, "researcher", "trader")}
    faults.faults["risk_manager"] = "http500"
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DATA_SOURCE": "synthetic",
        "LLM_PROVIDER": "openai_compatible",
        "LLM_BASE_URL": faults.url,
        "LLM_API_KEY": "k",
        "LLM_MODEL_CHEAP": MODEL,
        "LLM_MODEL_STRONG": MODEL,
        "LLM_PRICES": json.dumps({MODEL: {"input_per_mtok": "1", "output_per_mtok": "2"}}),
        "LLM_TIMEOUT_S": "1",
        "LLM_MAX_RETRIES": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--interval", "1h"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "failed" in result.output and "circuit open" in result.output
    assert "FALLBACK" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LLM_PROVIDER": "openai", "LLM_API_KEY": "k", "LLM_MODEL_CHEAP": "x-9"}, "LLM_PRICES"),
        ({"LLM_PROVIDER": "openai_compatible", "LLM_API_KEY": "k"}, "LLM_BASE_URL"),
        ({"LLM_PROVIDER": "no-such-provider"}, "LLM_PROVIDER"),
    ],
)
def test_cli_config_error_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], field: str
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cfg.db'}")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["analyze", "BTCUSDT"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in result.output
