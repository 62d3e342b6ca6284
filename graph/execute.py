"""The code end of the desk: the risk clamp node and the execute node (see the execution seam
in docs/architecture.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from core.risk import OrderSkipped
from graph.agents.base import desk_context, run_id_of
from graph.approval import ApprovalAnswerError, approval_request, read_approval
from graph.context import DeskContext
from graph.prepare import turn_clock
from graph.risk_gate import clamp_decision
from graph.schemas import ExecutionResult, FinalDecision
from graph.state import ExecuteInput, RiskGateInput
from tools.blind import BLIND_NOW
from tools.orders import OrderRequest


async def risk_gate_node(state: RiskGateInput, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = desk_context(runtime)
    assert state.snapshot is not None and state.portfolio is not None
    decision = clamp_decision(
        state.proposal,
        state.review,
        state.snapshot,
        state.portfolio,
        ctx.risk_limits,
        # blind: times are relative to the decision; a replayed turn: that bar's close
        now=BLIND_NOW if ctx.blind else turn_clock(state, ctx),
        fee_rate=float(ctx.settings.fee_rate),
        slippage_bps=float(ctx.settings.slippage_bps),
    )
    return {"decision": decision}


def order_for(decision: FinalDecision, symbol: str) -> OrderRequest:
    size = Decimal(str(decision.size_pct))
    if decision.action == "buy":
        return OrderRequest(
            symbol=symbol,
            side="buy",
            size_pct_equity=size,
            stop_loss=Decimal(str(decision.stop_loss)) if decision.stop_loss else None,
            take_profit=Decimal(str(decision.take_profit)) if decision.take_profit else None,
        )
    return OrderRequest(symbol=symbol, side="sell", sell_fraction=size / 100)


def order_key(state: ExecuteInput, runtime: Runtime[Any], ctx: DeskContext) -> str:
    """The executor's idempotency key: the API/CLI run id (one turn per run), else the thread
    and this turn (a conversation trades at most once per turn, also across a resume)."""
    if ctx.run_id:
        return ctx.run_id
    thread = run_id_of(runtime, ctx)
    if thread is None:
        raise ValueError("execute needs a run id (context.run_id or a checkpointer thread id)")
    return f"{thread}:{state.turn_id}" if state.turn_id else thread


def skip_reason(state: ExecuteInput, ctx: DeskContext) -> str | None:
    """Why this decision is not traded (None: it goes to the executor)."""
    decision = state.decision
    if decision is None or decision.action == "hold" or not decision.approved:
        return "nothing approved to trade"
    if state.execute is False:
        return "analysis only: trading was not asked for (say e.g. 'analyze and trade ...')"
    if state.as_of is not None:
        return "a replay of a past bar never trades"
    if ctx.executor is None:
        if state.execute:
            return (
                "analysis only: no paper portfolio to trade on "
                "(set portfolio_id in the run's context)"
            )
        return "analysis only: no executor"
    if ctx.blind:
        raise ValueError("blind: a blind desk sees rebased prices and cannot execute a trade")
    return None


def ask_approval(decision: FinalDecision, symbol: str) -> tuple[FinalDecision | None, str]:
    """Pause the run (checkpointed) with the HITL request the LangGraph chat clients render,
    until an answer can be honoured: an answer that cannot (a larger edit, an unknown decision)
    pauses it again with the reason at the top of the request, and nothing is traded."""
    refused: str | None = None
    while True:
        # The n-th `interrupt` of this node takes the n-th resume value (LangGraph replays the
        # node on each resume), so earlier refused answers are read again, and refused again.
        answer = interrupt(approval_request(decision, symbol, refused))
        try:
            return read_approval(answer, decision, symbol)
        except ApprovalAnswerError as exc:
            refused = str(exc)


async def execute_node(state: ExecuteInput, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = desk_context(runtime)
    if ctx.portfolio_unbound:  # e.g. resumed in a process that never ran this thread's prepare
        ctx = await asyncio.to_thread(ctx.bind_portfolio)
    reason = skip_reason(state, ctx)
    if reason is not None:
        return {"execution": ExecutionResult(status="skipped", detail=reason)}
    decision = state.decision
    assert decision is not None and ctx.executor is not None
    notes: list[str] = []
    if ctx.require_approval:
        approved, note = ask_approval(decision, state.symbol)
        if approved is None:
            return {"execution": ExecutionResult(status="rejected_by_human", detail=note)}
        if approved is not decision:  # edited: the order is smaller than the decision
            notes.append(note)
        decision = approved
    assert state.snapshot is not None
    run_id = order_key(state, runtime, ctx)
    order = order_for(decision, state.symbol)
    at = ctx.now or datetime.now(UTC)
    try:
        fill = await asyncio.to_thread(
            ctx.executor.execute,
            order,
            run_id=run_id,
            price=Decimal(str(state.snapshot.close)),
            at=at,
            source=state.snapshot.source,
        )
    except OrderSkipped as skip:
        # The executor's limits on the fresh portfolio left no room: a clean no-trade.
        runtime.stream_writer(
            {"event": "error", "severity": "warning", "node": "execute", "message": skip.reason}
        )
        return {
            "execution": ExecutionResult(
                status="skipped", detail=skip.reason, client_order_id=f"run:{run_id}"
            )
        }
    if fill is not None and fill.adjustments:
        for note in fill.adjustments:
            runtime.stream_writer(
                {"event": "error", "severity": "warning", "node": "execute", "message": note}
            )
    if fill is None:
        result = ExecutionResult(
            status="no_fill", detail="executor returned no fill", client_order_id=f"run:{run_id}"
        )
    else:
        result = ExecutionResult(
            status="filled",
            detail="; ".join([*notes, *fill.adjustments]),
            client_order_id=fill.client_order_id,
            trade_id=fill.trade_id,
            side=fill.side,
            quantity=float(fill.quantity),
            price=float(fill.price),
            fee=float(fill.fee),
            portfolio_id=state.portfolio.portfolio_id if state.portfolio else None,
        )
    return {"execution": result}
