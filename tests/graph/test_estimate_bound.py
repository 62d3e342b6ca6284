"""The backtest estimate is a true upper bound: a backtest in which every agent needs its
repair, with usage counted by the model's real tokenizer (as OpenAI reports it), costs no more
than estimated and makes no more calls; Ollama backtests need no price."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel
from sqlalchemy import Engine

from core.settings import Settings
from graph.backtest.data import prepare_data
from graph.backtest.estimate import estimate_cost
from graph.backtest.runs import create_backtest_run, default_decider_factory, run_backtest
from graph.backtest.schemas import BacktestParams
from graph.models import Prompt
from graph.rules_engine import rules_answer
from graph.tokens import count_tokens

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backtest"))
from bt_helpers import T0, random_walk_frame

MODEL = "gpt-4o-mini"


class RepairingModel(BaseChatModel):
    """Answers every first attempt with junk, every repair validly; usage = o200k counts of
    the messages (+3 per message, +3 for the reply: OpenAI's chat format) and of the answer."""

    owner: Any

    @property
    def _llm_type(self) -> str:
        return "repairing-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.owner.calls += 1
        repair = len(messages) > 2
        if repair:
            _, args = rules_answer(kw["agent"], kw["facts"])
            content = json.dumps(args)
        else:
            content = "I would rather describe the market in a long poem. " * 40
        prompt = sum(count_tokens(MODEL, str(m.content)) + 3 for m in messages) + 3
        usage: Any = {
            "input_tokens": prompt,
            "output_tokens": count_tokens(MODEL, content),
            "total_tokens": 0,
        }
        answer = AIMessage(content=content, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=answer)])


class RepairingClient:
    metered = True
    provider = "repairing"

    def __init__(self) -> None:
        self.calls = 0
        self.chat = RepairingModel(owner=self)

    def model_for(self, agent: str) -> str:
        return MODEL

    def chat_model(self, agent: str, prompt: Prompt, schema: type[BaseModel]) -> Any:
        return self.chat.bind(agent=agent, facts=prompt.facts)


def test_estimate_bounds_a_backtest_where_every_agent_repairs(sqlite_engine: Engine) -> None:
    params = BacktestParams(symbol="BTCUSDT", interval="1h", start=T0, end=T0 + timedelta(hours=6))
    settings = Settings(
        llm_provider="openai",
        llm_model_cheap=MODEL,
        llm_model_strong=MODEL,
        llm_max_output_tokens=800,
        backtest_cost_cap_usd=Decimal(5),
        _env_file=None,  # type: ignore[call-arg]
    )
    estimate = estimate_cost(params, settings)
    data = prepare_data(random_walk_frame(220), params, source="test")
    run_id = create_backtest_run(sqlite_engine, params.model_copy(), settings=settings)
    client = RepairingClient()
    factory = default_decider_factory(sqlite_engine, settings, model_client=client)
    report = run_backtest(
        sqlite_engine, run_id, settings=settings, data=data, decider_factory=factory
    )
    decisions = report.decisions
    assert decisions == estimate.decision_points
    assert report.usage.fallbacks == 0
    assert report.usage.llm_calls == client.calls <= estimate.llm_calls
    assert Decimal(str(report.usage.cost_usd)) <= estimate.usd
    assert report.usage.prompt_tokens <= estimate.prompt_tokens
    assert report.usage.completion_tokens <= estimate.completion_tokens


def test_ollama_backtest_needs_no_price() -> None:
    params = BacktestParams(symbol="BTCUSDT", interval="1h", start=T0, end=T0 + timedelta(days=30))
    settings = Settings(
        llm_provider="ollama",
        llm_model_cheap="llama3.2",
        llm_model_strong="qwen2.5",
        _env_file=None,  # type: ignore[call-arg]
    )
    estimate = estimate_cost(params, settings)
    assert estimate.metered and estimate.llm_calls > 0 and estimate.usd == 0
    assert estimate.within_cap
