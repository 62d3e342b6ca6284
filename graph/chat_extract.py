"""Structured extraction of a user turn by a real model (agent `intake`), through the same
budget → cache → model → parse → repair → fallback path as every agent. The rules parser's
reading is the fallback, so a model that fails never leaves a turn unanswered."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.agents.base import desk_context, run_id_of, system_prompt
from graph.chat_models import ChatRequest, TurnRecord
from graph.llm import call_agent
from graph.models import Prompt
from tools.intervals import INTERVAL_MS

AGENT = "intake"

ROLE = f"""You read one chat message sent to a crypto trading desk and say what it asks for.
kind=analyze: the user wants the desk to analyse a Binance spot pair (symbol like ETHUSDT,
interval one of {", ".join(INTERVAL_MS)}; as_of only when the user names a past time; execute
only when the user explicitly asks to trade or execute). kind=question: a question about the
desk's last decision (copy it into `question`). kind=unclear: anything else. Missing symbol or
interval: take them from the last turn when there is one."""
SYSTEM = system_prompt(ROLE, ChatRequest)


async def extract_request(
    runtime: Runtime[Any],
    text: str,
    last: TurnRecord | None,
    *,
    fallback: tuple[ChatRequest, str | None],
) -> tuple[ChatRequest, str | None]:
    ctx = desk_context(runtime)
    last_line = f"{last.symbol} {last.interval}" if last is not None else "none"
    prompt = Prompt(SYSTEM, f"Last turn: {last_line}\nMessage: {text}", {"text": text})
    call = await call_agent(
        ctx,
        agent=AGENT,
        prompt=prompt,
        schema=ChatRequest,
        fallback=lambda _error: fallback[0],
        run_id=run_id_of(runtime, ctx),
        writer=None,
    )
    request = call.output.model_copy(update={"text": text})
    if call.record.fallback:
        return fallback
    if request.kind == "analyze" and (
        request.symbol is None or request.interval not in INTERVAL_MS
    ):
        return fallback
    return request, None
