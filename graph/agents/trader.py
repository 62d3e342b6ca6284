"""Trader (strong tier): turns the thesis into a concrete order proposal."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.agents.base import compact, desk_context, num, run_agent, system_prompt
from graph.models import Prompt
from graph.schemas import TradeProposal
from graph.state import TraderInput

AGENT = "trader"

ROLE = """You are the trader of a crypto trading desk (spot only: you can buy, sell what is
held, or hold; no shorting, no leverage). Turn the research thesis into one order: side, size
(for a buy: % of equity to spend; for a sell: % of the held position), entry, a stop-loss below
entry for every buy, a take-profit, and a one-paragraph rationale. Respect the risk limits you
are shown; anything beyond them will be cut by the risk system."""
SYSTEM = system_prompt(ROLE, TradeProposal)

USER = """Pair {symbol} {interval}. Last close {close}, ATR14 {atr}.
Research thesis: {thesis}
Portfolio: equity {equity:.2f}, cash {cash:.2f}, current {symbol} position value {held:.2f},
total exposure {exposure:.2f}.
Risk limits: {limits}"""


def build_prompt(state: TraderInput, runtime: Runtime[Any]) -> Prompt:
    ctx = desk_context(runtime)
    snap, portfolio = state.snapshot, state.portfolio
    assert snap is not None and portfolio is not None and state.thesis is not None
    user = USER.format(
        symbol=state.symbol,
        interval=state.interval,
        close=num(snap.close),
        atr=num(snap.atr_14),
        thesis=compact(state.thesis),
        equity=portfolio.equity,
        cash=portfolio.cash,
        held=portfolio.position_value(state.symbol),
        exposure=portfolio.exposure,
        limits=compact(ctx.risk_limits),
    )
    facts = {
        "thesis": state.thesis,
        "snapshot": snap,
        "portfolio": portfolio,
        "limits": ctx.risk_limits,
    }
    return Prompt(SYSTEM, user, facts)


def fallback(error: str) -> TradeProposal:
    return TradeProposal(action="hold", size_pct=0, rationale=f"fallback to hold: {error}")


async def trader_node(state: TraderInput, runtime: Runtime[Any]) -> dict[str, Any]:
    proposal, update = await run_agent(
        runtime,
        agent=AGENT,
        prompt=build_prompt(state, runtime),
        schema=TradeProposal,
        fallback=fallback,
    )
    return {"proposal": proposal, **update}
