"""Tokenomics analyst (cheap tier): supply, valuation, emission and unlock facts."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.agents.analyst import inputs_unavailable, run_analyst
from graph.agents.base import compact, system_prompt
from graph.models import Prompt
from graph.schemas import AnalystReport
from graph.state import AnalystInput

AGENT = "tokenomics"

ROLE = """You are the tokenomics analyst of a crypto trading desk (spot only).
Judge supply-side pressure: emission (inflation) rate, hard cap, circulating vs total supply
(overhang), market cap vs fully diluted valuation and scheduled unlocks. These facts change
slowly: keep confidence low unless something is extreme."""
SYSTEM = system_prompt(ROLE, AnalystReport)

USER = """Tokenomics of {asset} (pair {symbol}), source {source}:
{facts}"""


def build_prompt(state: AnalystInput) -> Prompt:
    inputs = state.tokenomics_inputs
    assert inputs is not None
    user = USER.format(
        asset=inputs.asset,
        symbol=state.symbol,
        source=inputs.source,
        facts=compact(inputs, exclude={"symbol", "asset", "source"}),
    )
    return Prompt(SYSTEM, user, {"tokenomics": inputs})


async def tokenomics_node(state: AnalystInput, runtime: Runtime[Any]) -> dict[str, Any]:
    if state.tokenomics_inputs is None:
        return inputs_unavailable(AGENT)
    return await run_analyst(
        runtime, agent=AGENT, prompt=build_prompt(state), source=state.tokenomics_inputs.source
    )
