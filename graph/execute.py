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
        now=BLIND_NOW if ctx.blind else ctx.now,  # blind: times are relative to the decision
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


async def execute_node(state: ExecuteInput, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = desk_context(runtime)
    decision = state.decision
    if decision is None or decision.action == "hold" or not decision.approved:
        return {"execution": ExecutionResult(status="skipped", detail="nothing approved to trade")}
    if ctx.executor is None:
        return {"execution": ExecutionResult(status="skipped", detail="analysis only: no executor")}
    if ctx.blind:
        raise ValueError("blind: a blind desk sees rebased prices and cannot execute a trade")
    if ctx.require_approval:
        # Pauses the run (checkpointed); resumed by Command(resume={"approved": bool, "note": str}).
        answer = interrupt(
            {"question": "approve this order?", "decision": decision.model_dump(mode="json")}
        )
        approved = bool(answer.get("approved")) if isinstance(answer, dict) else bool(answer)
        if not approved:
            note = answer.get("note", "") if isinstance(answer, dict) else ""
            return {
                "execution": ExecutionResult(
                    status="rejected_by_human", detail=note or "rejected by a human"
                )
            }
    assert state.snapshot is not None
    run_id = run_id_of(runtime, ctx)
    if run_id is None:
        raise ValueError("execute needs a run id (context.run_id or a checkpointer thread id)")
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
            detail="; ".join(fill.adjustments),
            client_order_id=fill.client_order_id,
            trade_id=fill.trade_id,
            side=fill.side,
            quantity=float(fill.quantity),
            price=float(fill.price),
            fee=float(fill.fee),
            portfolio_id=state.portfolio.portfolio_id if state.portfolio else None,
        )
    return {"execution": result}
