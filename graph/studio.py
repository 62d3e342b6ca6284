"""Checkpointer-free desk for LangGraph Studio / `langgraph dev` (see langgraph.json): the
Agent Server adds its own persistence. Its context schema only has the simple knobs a JSON
client can set; nodes fall back to the offline default context for everything else."""

from __future__ import annotations

from pydantic import BaseModel

from graph.graph import GRAPH_NAME, build_graph


class StudioContext(BaseModel):
    require_approval: bool = False
    stream_tokens: bool = True


graph = build_graph(context_schema=StudioContext).compile(name=GRAPH_NAME)
