"""What the three analysts (technical, sentiment, tokenomics) share: the neutral fallback, the
report for inputs that could not be fetched, and stamping a model's report with its data source."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from graph.agents.base import run_agent
from graph.models import Prompt
from graph.schemas import AnalystReport


def fallback(error: str) -> AnalystReport:
    return AnalystReport(
        signal="neutral", score=0, confidence=0, summary=f"fallback: {error}", source="fallback"
    )


def inputs_unavailable(agent: str) -> dict[str, Any]:
    """The state update of an analyst whose inputs failed to load: neutral, and no model call
    (the failure itself was reported as an error event when the inputs were fetched)."""
    report = AnalystReport(
        signal="neutral",
        score=0,
        confidence=0,
        summary=f"{agent} inputs unavailable (see the error event); neutral, no call made",
        source="unavailable",
    )
    message = AIMessage(content=report.summary, name=agent)
    return {"reports": {agent: report}, "messages": [message]}


async def run_analyst(
    runtime: Runtime[Any], *, agent: str, prompt: Prompt, source: str
) -> dict[str, Any]:
    """Ask the analyst's model. Its own report names `source` (where its inputs came from), not
    whatever the model wrote there; a fallback report keeps `source="fallback"`."""
    report, update = await run_agent(
        runtime, agent=agent, prompt=prompt, schema=AnalystReport, fallback=fallback
    )
    if not update["calls"][0].fallback:
        report.source = source  # a fresh object from this call: stamped in place
    return {"reports": {agent: report}, **update}
