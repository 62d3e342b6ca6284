"""Technical analyst (cheap tier): reads the indicator snapshot, never raw candles."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.agents.base import compact, json_instructions, run_agent
from graph.models import Prompt
from graph.schemas import AnalystReport
from graph.state import DeskState

AGENT = "technical"

SYSTEM = """You are the technical analyst of a crypto trading desk (spot only).
Judge trend (EMA 20/50/200 alignment), momentum (RSI 14, MACD), mean reversion (Bollinger band
position) and volatility (ATR 14) from the indicator snapshot you are given. Be calibrated:
confidence near 0 when signals conflict. Score -1 (very bearish) to +1 (very bullish)."""

USER = """Indicator snapshot for {symbol} {interval} (decision bar inclusive, data source
{source}):
{snapshot}

{instructions}"""


def build_prompt(state: DeskState) -> Prompt:
    snap = state.snapshot
    assert snap is not None, "prepare must run before the technical analyst"
    user = USER.format(
        symbol=snap.symbol,
        interval=snap.interval,
        source=snap.source,
        snapshot=compact(snap),
        instructions=json_instructions(AnalystReport),
    )
    return Prompt(SYSTEM, user, {"snapshot": snap})


def fallback(error: str) -> AnalystReport:
    return AnalystReport(
        signal="neutral", score=0, confidence=0, summary=f"fallback: {error}", source="fallback"
    )


async def technical_node(state: DeskState, runtime: Runtime[Any]) -> dict[str, Any]:
    report, update = await run_agent(
        runtime, agent=AGENT, prompt=build_prompt(state), schema=AnalystReport, fallback=fallback
    )
    if state.snapshot is not None and not update["calls"][0].fallback:
        report = report.model_copy(update={"source": state.snapshot.source})
    return {"reports": {AGENT: report}, **update}
