"""What every agent node shares: the context lookup, the JSON answer instructions and the
call → named AIMessage → state update plumbing."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel

from graph.context import DeskContext
from graph.llm import AgentCall, call_agent
from graph.models import Prompt
from graph.schemas import answer_schema

SIGNIFICANT_DIGITS = 6
"""Numbers in prompts: enough for any price or indicator to mean what it says (26958.9, RSI
62.3456 → 62.3456, 0.000123457), none of a float's noise digits."""

_default_context: DeskContext | None = None


def desk_context(runtime: Runtime[Any] | None) -> DeskContext:
    """The run's context, resolved. Invoked without one (Studio, a bare `graph.invoke`), the
    desk uses a process-wide offline default built from settings."""
    global _default_context
    ctx = runtime.context if runtime is not None else None
    if isinstance(ctx, DeskContext):
        return ctx.resolved()
    if _default_context is None:
        _default_context = DeskContext().resolved()
    if isinstance(ctx, BaseModel):  # Studio's pydantic context
        ctx = ctx.model_dump()
    if isinstance(ctx, dict) and ctx:
        return _default_context.with_overrides(ctx)
    return _default_context


def run_id_of(runtime: Runtime[Any], ctx: DeskContext) -> str | None:
    if ctx.run_id:
        return ctx.run_id
    info = runtime.execution_info
    return info.thread_id if info is not None else None


def system_prompt(role: str, schema: type[BaseModel]) -> str:
    """An agent's system prompt: its role, then the answer format. Both are fixed per agent, so
    they are rendered once at import and every call shares the same prefix (which providers
    cache); the user message carries only the facts of the decision."""
    return (
        f"{role}\n\n"
        "Answer with ONE JSON object matching this JSON schema. Write `reasoning` first: your "
        "own reasoning about the facts above, 2 to 4 plain sentences; then the other fields.\n"
        + json.dumps(answer_schema(schema), separators=(",", ":"))
    )


def num(value: float) -> str:
    """A number for a prompt, to `SIGNIFICANT_DIGITS` significant digits."""
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


_LONG_NUMBER = re.compile(r"-?\d+\.\d{6,}(?:[eE][-+]?\d+)?|-?\d\.\d+[eE][-+]?\d+")


def _short(match: re.Match[str]) -> str:
    return num(float(match.group()))


def rounded_json(text: str) -> str:
    """JSON text with every long float cut to `SIGNIFICANT_DIGITS` significant digits (one
    regex pass: only numbers with 6+ decimals or an exponent are touched)."""
    return _LONG_NUMBER.sub(_short, text)


def compact(model: BaseModel | None, **kwargs: Any) -> str:
    """A model as compact JSON for a prompt (facts, not prose), numbers rounded."""
    if model is None:
        return "null"
    return rounded_json(model.model_dump_json(**kwargs))


async def run_agent[T: BaseModel](
    runtime: Runtime[Any],
    *,
    agent: str,
    prompt: Prompt,
    schema: type[T],
    fallback: Any,
) -> tuple[T, dict[str, Any]]:
    """Call the agent's model and return its output plus the messages/calls state update."""
    ctx = desk_context(runtime)
    call: AgentCall[T] = await call_agent(
        ctx,
        agent=agent,
        prompt=prompt,
        schema=schema,
        fallback=fallback,
        run_id=run_id_of(runtime, ctx),
        writer=runtime.stream_writer if ctx.stream_tokens else None,
    )
    message = AIMessage(content=call.reasoning, name=agent, id=call.message_id)
    return call.output, {"messages": [message], "calls": [call.record]}
