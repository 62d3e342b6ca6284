"""The desk graph as the backtest's decider: a rules-engine backtest end to end, and the LLM
answer cache making a re-run free (zero model calls) with identical trades."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from bt_helpers import T0, random_walk_frame
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from core.settings import Settings
from graph.backtest.data import prepare_data
from graph.backtest.runs import create_backtest_run, default_decider_factory, run_backtest
from graph.backtest.schemas import BacktestParams
from graph.models import ModelReply, Prompt, Usage
from graph.rules_engine import RulesModelClient
from persistence.models import AgentLog


class CountingFakeLLM:
    """A metered 'LLM' that answers like the rules engine, in LLM form (prose + fenced JSON)."""

    metered = True

    def __init__(self) -> None:
        self.calls = 0
        self._rules = RulesModelClient()

    def model_for(self, agent: str) -> str:
        return "gpt-4o-mini"

    async def generate(
        self, agent: str, prompt: Prompt, schema: type[BaseModel], on_token=None
    ) -> ModelReply:  # type: ignore[no-untyped-def]
        self.calls += 1
        reply = await self._rules.generate(agent, prompt, schema)
        assert reply.parsed is not None
        text = f"{reply.text}\n```json\n{reply.parsed.model_dump_json()}\n```"
        return ModelReply(
            text=text, usage=Usage(prompt_tokens=400, completion_tokens=60), model="gpt-4o-mini"
        )


def _params(hours: int) -> BacktestParams:
    return BacktestParams(
        symbol="BTCUSDT", interval="1h", start=T0, end=T0 + timedelta(hours=hours)
    )


def test_rules_desk_backtest_runs_end_to_end(sqlite_engine: Engine) -> None:
    params = _params(120)
    data = prepare_data(random_walk_frame(320), params, source="test")
    settings = Settings()
    run_id = create_backtest_run(sqlite_engine, params, settings=settings)
    report = run_backtest(sqlite_engine, run_id, settings=settings, data=data)
    assert report.decisions == 119 and report.model == "rules"
    assert report.usage.llm_calls == 0 and report.usage.cost_usd == 0
    assert report.metrics is not None and len(report.equity_curve) == 120
    assert report.baselines["rules"].note is not None  # reused: the main model is rules


def test_llm_answer_cache_makes_rerun_free_and_identical(sqlite_engine: Engine) -> None:
    params = _params(25)
    data = prepare_data(random_walk_frame(225), params, source="test")
    settings = Settings(
        llm_provider="openai",
        llm_model_cheap="gpt-4o-mini",
        llm_model_strong="gpt-4o-mini",
        backtest_cost_cap_usd=Decimal(5),
    )
    reports, calls = [], []
    for _ in range(2):
        fake = CountingFakeLLM()
        run_id = create_backtest_run(sqlite_engine, params, settings=settings)
        reports.append(
            run_backtest(
                sqlite_engine,
                run_id,
                settings=settings,
                data=data,
                decider_factory=default_decider_factory(sqlite_engine, settings, model_client=fake),
            )
        )
        calls.append(fake.calls)
    # 24 decisions × 6 agents; identical prompts (the offline sentiment and tokenomics inputs
    # barely change bar to bar) already hit the cache within the first run
    first, second = reports
    assert 0 < calls[0] <= 24 * 6 and first.usage.llm_calls == calls[0]
    assert calls[1] == 0 and second.usage.llm_calls == 0  # every answer from the cache
    assert second.usage.cost_usd == 0 < first.usage.cost_usd
    assert second.fills == first.fills and second.equity_curve == first.equity_curve
    assert second.decision_spread == first.decision_spread
    with sqlite_engine.connect() as conn:
        cached = conn.execute(
            select(func.count()).select_from(AgentLog).where(AgentLog.cached.is_(True))
        ).scalar_one()
    assert cached == (24 * 6 - calls[0]) + 24 * 6
    # the main model is an LLM, so the rules engine ran as its own baseline
    assert reports[0].baselines["rules"].note is None
    assert reports[0].baselines["rules"].metrics is not None


def test_cost_cap_refuses_to_start(sqlite_engine: Engine) -> None:
    from graph.backtest.estimate import CostLimitError

    settings = Settings(llm_provider="openai", backtest_cost_cap_usd=Decimal("0.01"))
    with pytest.raises(CostLimitError, match="max_cost"):
        create_backtest_run(sqlite_engine, _params(24 * 30), settings=settings)
    raised = _params(24 * 30).model_copy(update={"max_cost_usd": Decimal(1000)})
    assert create_backtest_run(sqlite_engine, raised, settings=settings)
