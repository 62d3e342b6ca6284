"""Technical analyst (cheap tier): reads the indicator snapshot, never raw candles."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.agents.analyst import run_analyst
from graph.agents.base import compact, system_prompt
from graph.models import Prompt
from graph.schemas import AnalystReport
from graph.state import AnalystInput

AGENT = "technical"

ROLE = """You are the technical analyst of a crypto trading desk (spot only).
Judge trend (EMA 20/50/200 alignment), momentum (RSI 14, MACD), mean reversion (Bollinger band
position) and volatility (ATR 14) from the indicator snapshot you are given. Be calibrated:
confidence near 0 when signals conflict. Score -1 (very bearish) to +1 (very bullish)."""
SYSTEM = system_prompt(ROLE, AnalystReport)

USER = """Indicator snapshot for {symbol} {interval} (decision bar inclusive, data source
{source}):
{snapshot}"""


def build_prompt(state: AnalystInput) -> Prompt:
    snap = state.snapshot
    assert snap is not None, "prepare must run before the technical analyst"
    user = USER.format(
        symbol=snap.symbol,
        interval=snap.interval,
        source=snap.source,
        snapshot=compact(snap),
    )
    return Prompt(SYSTEM, user, {"snapshot": snap})


async def technical_node(state: AnalystInput, runtime: Runtime[Any]) -> dict[str, Any]:
    prompt = build_prompt(state)
    assert state.snapshot is not None  # build_prompt has checked
    return await run_analyst(runtime, agent=AGENT, prompt=prompt, source=state.snapshot.source)
