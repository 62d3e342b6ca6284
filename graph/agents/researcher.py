"""Researcher (strong tier): turns the three analyst reports into one thesis."""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime

from graph.agents.base import json_instructions, run_agent
from graph.models import Prompt
from graph.schemas import ResearchThesis
from graph.state import ResearcherInput

AGENT = "researcher"

SYSTEM = """You are the head of research of a crypto trading desk (spot only).
Weigh the technical, sentiment and tokenomics reports by their confidence (technical matters
most on short horizons), state a direction (bullish, bearish or neutral), a conviction from 0
to 1, and the key risks to the thesis. Disagreement between analysts lowers conviction."""

USER = """Pair {symbol} {interval}, last close {close}.
Analyst reports:
{reports}

{instructions}"""


def build_prompt(state: ResearcherInput) -> Prompt:
    snap = state.snapshot
    assert snap is not None
    reports = json.dumps(
        {name: r.model_dump(exclude={"key_points"}) for name, r in sorted(state.reports.items())},
        separators=(",", ":"),
    )
    user = USER.format(
        symbol=state.symbol,
        interval=state.interval,
        close=snap.close,
        reports=reports,
        instructions=json_instructions(ResearchThesis),
    )
    return Prompt(SYSTEM, user, {"reports": dict(state.reports), "snapshot": snap})


def fallback(error: str) -> ResearchThesis:
    return ResearchThesis(
        direction="neutral", conviction=0, key_risks=["researcher output invalid"], summary=error
    )


async def researcher_node(state: ResearcherInput, runtime: Runtime[Any]) -> dict[str, Any]:
    thesis, update = await run_agent(
        runtime, agent=AGENT, prompt=build_prompt(state), schema=ResearchThesis, fallback=fallback
    )
    return {"thesis": thesis, **update}
