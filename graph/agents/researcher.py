"""Researcher (strong tier): turns the three analyst reports into one thesis."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from pydantic import TypeAdapter

from graph.agents.base import num, rounded_json, run_agent, system_prompt
from graph.models import Prompt
from graph.schemas import AnalystReport, ResearchThesis
from graph.state import ResearcherInput

AGENT = "researcher"
_REPORTS = TypeAdapter(dict[str, AnalystReport])

ROLE = """You are the head of research of a crypto trading desk (spot only).
Weigh the technical, sentiment and tokenomics reports by their confidence (technical matters
most on short horizons), state a direction (bullish, bearish or neutral), a conviction from 0
to 1, and the key risks to the thesis. Disagreement between analysts lowers conviction."""
SYSTEM = system_prompt(ROLE, ResearchThesis)

USER = """Pair {symbol} {interval}, last close {close}.
Analyst reports:
{reports}"""


def build_prompt(state: ResearcherInput) -> Prompt:
    snap = state.snapshot
    assert snap is not None
    # Compact JSON in pydantic-core; the analysts' key points stay out (their summaries carry
    # the gist), which keeps the strong-tier prompt short.
    reports = rounded_json(
        _REPORTS.dump_json(
            dict(sorted(state.reports.items())), exclude={"__all__": {"key_points"}}
        ).decode()
    )
    user = USER.format(
        symbol=state.symbol,
        interval=state.interval,
        close=num(snap.close),
        reports=reports,
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
