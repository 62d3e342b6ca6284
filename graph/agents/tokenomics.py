"""Tokenomics analyst (cheap tier): supply, valuation, emission and unlock facts."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from graph.agents.base import compact, json_instructions, run_agent
from graph.models import Prompt
from graph.schemas import AnalystReport
from graph.state import DeskState

AGENT = "tokenomics"

SYSTEM = """You are the tokenomics analyst of a crypto trading desk (spot only).
Judge supply-side pressure: emission (inflation) rate, hard cap, circulating vs total supply
(overhang), market cap vs fully diluted valuation and scheduled unlocks. These facts change
slowly: keep confidence low unless something is extreme."""

USER = """Tokenomics of {asset} (pair {symbol}), source {source}:
{facts}

{instructions}"""


def build_prompt(state: DeskState) -> Prompt:
    inputs = state.tokenomics_inputs
    assert inputs is not None
    user = USER.format(
        asset=inputs.asset,
        symbol=state.symbol,
        source=inputs.source,
        facts=compact(inputs, exclude={"symbol", "asset", "source"}),
        instructions=json_instructions(AnalystReport),
    )
    return Prompt(SYSTEM, user, {"tokenomics": inputs})


def fallback(error: str) -> AnalystReport:
    return AnalystReport(
        signal="neutral", score=0, confidence=0, summary=f"fallback: {error}", source="fallback"
    )


async def tokenomics_node(state: DeskState, runtime: Runtime[Any]) -> dict[str, Any]:
    if state.tokenomics_inputs is None:
        report = AnalystReport(
            signal="neutral",
            score=0,
            confidence=0,
            summary="tokenomics inputs unavailable (see the error event); neutral, no call made",
            source="unavailable",
        )
        message = AIMessage(content=report.summary, name=AGENT)
        return {"reports": {AGENT: report}, "messages": [message]}
    report, update = await run_agent(
        runtime, agent=AGENT, prompt=build_prompt(state), schema=AnalystReport, fallback=fallback
    )
    if not update["calls"][0].fallback:
        report = report.model_copy(update={"source": state.tokenomics_inputs.source})
    return {"reports": {AGENT: report}, **update}
