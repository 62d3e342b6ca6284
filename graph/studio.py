"""Checkpointer-free desk for LangGraph Studio / `langgraph dev` (see langgraph.json): the
Agent Server adds its own persistence. Its context schema only has the simple knobs a JSON
client can set; nodes fall back to the offline default context for everything else."""

from __future__ import annotations

from pydantic import BaseModel, Field

from graph.graph import GRAPH_NAME, build_graph


class StudioContext(BaseModel):
    """What a Studio / chat-client user may set per run (the assistant's or run's context)."""

    require_approval: bool = False
    """Interrupt before any order (accept / ignore / edit in Studio or a chat client)."""

    portfolio_id: int | None = Field(default=None, ge=1)
    """The paper portfolio to trade on when a turn asks to trade ('analyze and trade ...');
    None → analysis only. Its own `require_approval` also applies."""

    stream_tokens: bool = True


graph = build_graph(context_schema=StudioContext).compile(name=GRAPH_NAME)
