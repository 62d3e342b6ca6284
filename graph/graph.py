"""The desk: intake (chat turn → request) → prepare → three analysts in parallel → researcher →
trader → risk manager → code risk clamp → execute → report (the answer). A follow-up question
or an unclear message is answered by intake and ends the turn. Compiled once, named
`cryptofirm_desk`."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from graph.agents.researcher import researcher_node
from graph.agents.risk_manager import risk_manager_node
from graph.agents.sentiment import sentiment_node
from graph.agents.technical import technical_node
from graph.agents.tokenomics import tokenomics_node
from graph.agents.trader import trader_node
from graph.chat import intake_node, report_node, route_after_intake, route_entry
from graph.context import DeskContext
from graph.execute import execute_node, risk_gate_node
from graph.prepare import prepare_node
from graph.state import DeskInput, DeskState, OutputState

GRAPH_NAME = "cryptofirm_desk"
ANALYST_NODES = ("technical", "sentiment", "tokenomics")

# LangGraph's default `retry_on` retries transient errors (e.g. ConnectionError) but never
# RuntimeError/ValueError, so `BudgetExceededError` (a RuntimeError) is never retried.
TRANSIENT_RETRY = RetryPolicy(max_attempts=3, initial_interval=0.5)


def build_graph(context_schema: type[Any] = DeskContext) -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        DeskState,
        context_schema=context_schema,
        input_schema=DeskInput,
        output_schema=OutputState,
    )
    builder.add_node("intake", intake_node)
    builder.add_node("prepare", prepare_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("technical", technical_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("sentiment", sentiment_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("tokenomics", tokenomics_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("researcher", researcher_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("trader", trader_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("risk_manager", risk_manager_node, retry_policy=TRANSIENT_RETRY)
    builder.add_node("risk_gate", risk_gate_node)
    builder.add_node("execute", execute_node)
    builder.add_node("report", report_node)

    # Understand the turn: an analysis request goes on; a question is answered right there.
    # (A fresh structured invocation has nothing to understand or reset: straight to prepare.)
    builder.add_conditional_edges(START, route_entry, ["intake", "prepare"])
    builder.add_conditional_edges("intake", route_after_intake, ["prepare", END])
    # Gather the facts once, before anyone reasons.
    # Fan out: the three analysts run in the same superstep (their reports merge by reducer).
    for analyst in ANALYST_NODES:
        builder.add_edge("prepare", analyst)
    # Fan in: the researcher waits for all three analysts.
    builder.add_edge(list(ANALYST_NODES), "researcher")
    # The decision chain is sequential: each step needs the previous one's output.
    builder.add_edge("researcher", "trader")
    builder.add_edge("trader", "risk_manager")
    # Code has the last word on risk, whatever the models said.
    builder.add_edge("risk_manager", "risk_gate")
    builder.add_edge("risk_gate", "execute")
    builder.add_edge("execute", "report")
    builder.add_edge("report", END)
    return builder


def compile_desk(checkpointer: Any = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The desk with a checkpointer (CLI/API: resumable, interruptible by thread id)."""
    return build_graph().compile(checkpointer=checkpointer, name=GRAPH_NAME)


graph = compile_desk()
"""Checkpointer-free desk: backtests and direct `ainvoke` callers."""
