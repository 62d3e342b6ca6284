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
from graph.schemas import FRACTION_STEP, POSITIVE_NUMBER_PATTERN, answer_schema

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
        return ctx.resolved().bound_if_known()
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


def _describe(prop: dict[str, Any]) -> str:
    """One answer field in words, from its answer-schema entry (`graph.schemas.answer_schema`)."""
    kind, enum = prop.get("type"), prop.get("enum")
    if "anyOf" in prop:
        text = " or ".join(_describe(p) for p in prop["anyOf"])
    elif enum is not None and kind == "number":
        text = f"a number from {enum[0]:g} to {enum[-1]:g} in steps of {FRACTION_STEP}"
    elif enum is not None:
        text = "one of " + ", ".join(json.dumps(v) for v in enum)
    elif kind == "integer" and "minimum" in prop:
        text = f"a whole number from {prop['minimum']} to {prop['maximum']}"
    elif kind == "number":
        text = "a number"
    elif prop.get("pattern") == POSITIVE_NUMBER_PATTERN:
        text = "a price above 0 in quotes"
    elif kind == "array":
        text = f"a list of at most {prop['maxItems']} short texts"
    elif kind == "string":
        text = "a date-time (ISO 8601)" if prop.get("format") == "date-time" else "a short text"
    else:
        text = {"boolean": "true or false"}.get(str(kind), str(kind))  # null
    description = prop.get("description")
    return f"{text} ({description})" if description else text


def field_guide(schema: type[BaseModel]) -> str:
    """The answer's fields in order, one line each: what the model must write, in words. Small
    models copy a schema's numbers (`"minimum":-1`) into the answer; a guide they read."""
    props = answer_schema(schema)["properties"]
    lines = [
        '"reasoning": your reasoning about the facts, 2 or 3 short sentences',
        *(f'"{name}": {_describe(prop)}' for name, prop in props.items() if name != "reasoning"),
    ]
    return "\n".join(lines)


def system_prompt(role: str, schema: type[BaseModel]) -> str:
    """An agent's system prompt: its role, then the answer format. Both are fixed per agent, so
    they are rendered once at import and every call shares the same prefix (which providers
    cache); the user message carries only the facts of the decision."""
    return (
        f"{role}\n\n"
        "Answer with ONE JSON object with exactly these fields, in this order:\n"
        + field_guide(schema)
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
