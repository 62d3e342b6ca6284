"""The desk graph as the backtest's decider: a rules-engine backtest end to end, and the LLM
answer cache making a re-run free (zero model calls) with identical trades."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from bt_helpers import T0, random_walk_frame
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from core.settings import Settings
from graph.backtest.data import prepare_data
from graph.backtest.runs import create_backtest_run, default_decider_factory, run_backtest
from graph.backtest.schemas import BacktestParams
from graph.models import Prompt
from graph.rules_engine import rules_answer
from persistence.models import AgentLog


class _RulesInLLMForm(BaseChatModel):
    """Answers like the rules engine, in LLM form (prose + fenced JSON), with usage."""

    owner: Any

    @property
    def _llm_type(self) -> str:
        return "counting-fake"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        self.owner.calls += 1
        text, args = rules_answer(kw["agent"], kw["facts"])
        args.pop("reasoning")
        usage: Any = {"input_tokens": 400, "output_tokens": 60, "total_tokens": 460}
        message = AIMessage(
            content=f"{text}\n```json\n{json.dumps(args)}\n```", usage_metadata=usage
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


class CountingFakeLLM:
    """A metered 'LLM' that answers like the rules engine, in LLM form (prose + fenced JSON)."""

    metered = True
    provider = "counting-fake"

    def __init__(self) -> None:
        self.calls = 0
        self.chat = _RulesInLLMForm(owner=self)

    def model_for(self, agent: str) -> str:
        return "gpt-4o-mini"

    def chat_model(self, agent: str, prompt: Prompt, schema: type[BaseModel]) -> Any:
        return self.chat.bind(agent=agent, facts=prompt.facts)


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


def test_recorded_backtest_replays_with_zero_calls_and_identical_results(
    sqlite_engine: Engine,
) -> None:
    params = _params(25)
    data = prepare_data(random_walk_frame(225), params, source="test")
    settings = Settings(
        llm_provider="openai",
        llm_model_cheap="gpt-4o-mini",
        llm_model_strong="gpt-4o-mini",
        backtest_cost_cap_usd=Decimal(5),
    )
    # The second run replays: a response missing from the recording would fail it.
    replay = settings.model_copy(update={"llm_replay": True})
    reports, calls = [], []
    for run_settings in (settings, replay):
        fake = CountingFakeLLM()
        run_id = create_backtest_run(sqlite_engine, params, settings=run_settings)
        factory = default_decider_factory(sqlite_engine, run_settings, model_client=fake)
        reports.append(
            run_backtest(
                sqlite_engine, run_id, settings=run_settings, data=data, decider_factory=factory
            )
        )
        calls.append(fake.calls)
    # 24 decisions × 6 agents; identical prompts (the offline sentiment and tokenomics inputs
    # barely change bar to bar) already hit the recording within the first run
    first, second = reports
    assert 0 < calls[0] <= 24 * 6 and first.usage.llm_calls == calls[0]
    assert calls[1] == 0 and second.usage.llm_calls == 0  # every answer from the recording
    # Bit for bit: the same trades, equity and (recorded) costs and tokens.
    assert second.fills == first.fills and second.equity_curve == first.equity_curve
    assert second.decision_spread == first.decision_spread
    assert second.usage.cost_usd == first.usage.cost_usd > 0
    assert second.usage.prompt_tokens == first.usage.prompt_tokens
    assert second.usage.completion_tokens == first.usage.completion_tokens
    with sqlite_engine.connect() as conn:
        cached = conn.execute(
            select(func.count()).select_from(AgentLog).where(AgentLog.cached.is_(True))
        ).scalar_one()
        spent = conn.execute(
            select(func.sum(AgentLog.cost_usd)).where(AgentLog.cached.is_(True))
        ).scalar_one()
    assert cached == (24 * 6 - calls[0]) + 24 * 6 and spent == 0  # nothing was paid twice
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
