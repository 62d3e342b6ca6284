"""Risk manager (strong tier): approves, shrinks or rejects the trader's proposal. It can
never enlarge anything: `graph.risk_gate` enforces the hard limits after it, in code."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.agents.base import compact, desk_context, num, run_agent, system_prompt
from graph.models import Prompt
from graph.schemas import RiskReview
from graph.state import RiskManagerInput

AGENT = "risk_manager"

ROLE = """You are the risk manager of a crypto trading desk (spot only). Review the trader's
proposal against the thesis, volatility and the portfolio. You may approve it, resize it
(smaller only) or reject it, and you may tighten its stop-loss. Give concrete reasons. Hard
limits (position size, exposure, stop distance, cash reserve, loss breakers) are enforced by
code after you; your job is judgement within them."""
SYSTEM = system_prompt(ROLE, RiskReview)

USER = """Pair {symbol} {interval}. Last close {close}, ATR14 {atr}, realised vol {vol}.
Thesis: {thesis}
Proposal: {proposal}
Portfolio: equity {equity:.2f}, cash {cash:.2f}, exposure {exposure:.2f}, day-start equity
{day_start:.2f}, peak equity {peak:.2f}.
Risk limits: {limits}"""


def build_prompt(state: RiskManagerInput, runtime: Runtime[Any]) -> Prompt:
    ctx = desk_context(runtime)
    snap, portfolio = state.snapshot, state.portfolio
    assert snap is not None and portfolio is not None
    assert state.thesis is not None and state.proposal is not None
    user = USER.format(
        symbol=state.symbol,
        interval=state.interval,
        close=num(snap.close),
        atr=num(snap.atr_14),
        vol=num(snap.realized_vol_20),
        thesis=compact(state.thesis),
        proposal=compact(state.proposal),
        equity=portfolio.equity,
        cash=portfolio.cash,
        exposure=portfolio.exposure,
        day_start=portfolio.day_start_equity,
        peak=portfolio.peak_equity,
        limits=compact(ctx.risk_limits),
    )
    facts = {"proposal": state.proposal, "thesis": state.thesis, "snapshot": snap}
    return Prompt(SYSTEM, user, facts)


def fallback(error: str) -> RiskReview:
    return RiskReview(verdict="reject", size_pct=0, reasons=[f"fallback to reject: {error}"])


async def risk_manager_node(state: RiskManagerInput, runtime: Runtime[Any]) -> dict[str, Any]:
    review, update = await run_agent(
        runtime,
        agent=AGENT,
        prompt=build_prompt(state, runtime),
        schema=RiskReview,
        fallback=fallback,
    )
    return {"review": review, **update}
