"""One agent call, the way every agent makes it: budget check → answer cache → model (tokens
streamed on the custom stream) → parse/validate → one repair → safe fallback, with every
attempt logged to `agent_logs` (buffered) and returned as a `CallRecord`.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from core.logging import log_context
from core.metrics import observe_llm_fallback
from graph.budget import BudgetExceededError
from graph.context import DeskContext
from graph.costs import cost_usd
from graph.llm_cache import cache_key
from graph.models import ModelReply, Prompt, monotonic_ms
from graph.schemas import CallRecord

StreamWriter = Callable[[Any], None]

_WORDS = re.compile(r"\S+\s*|\s+")

# Message ids must be unique within a thread, also across a crash and resume in another
# process: a random per-process prefix plus a counter (no syscall per call).
_MESSAGE_ID_PREFIX = secrets.token_hex(4)
_message_numbers = itertools.count(1)


class OutputParseError(ValueError):
    pass


def _last_fenced_object(text: str) -> tuple[str, int] | None:
    """The body of the last ```-fenced block holding a JSON object, and where its fence opens.
    (Adjacent fence pairs are tried from the end: a later fenced non-JSON block is skipped.)"""
    end = text.rfind("```")
    while end > 0:
        start = text.rfind("```", 0, end)
        if start < 0:
            return None
        body = text[start + 3 : end]
        body = (body[4:] if body.startswith("json") else body).strip()
        if body.startswith("{") and body.endswith("}"):
            return body, start
        end = start
    return None


def parse_reply[T: BaseModel](text: str, schema: type[T]) -> tuple[T, str]:
    """The last fenced JSON block (or the outermost {...}) validated against `schema`, plus
    the reasoning text before it."""
    fenced = _last_fenced_object(text)
    if fenced is not None:
        raw, start = fenced
    else:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise OutputParseError("no JSON object found in the reply")
        raw = text[start : end + 1]
    try:
        # Parsed and validated in one pass in pydantic-core (no intermediate dict of Python
        # objects): this runs once per agent call, on the desk's per-decision hot path.
        parsed = schema.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise OutputParseError(f"invalid JSON: {errors[0]['msg']}") from exc
        raise OutputParseError(str(exc).replace("\n", "; ")) from exc
    return parsed, text[:start].strip()


def stream_words(text: str, emit: Callable[[str], None]) -> None:
    """Emit text the way a model streams it: word by word, whitespace kept."""
    for piece in _WORDS.findall(text):
        emit(piece)


@dataclass
class AgentCall[T: BaseModel]:
    output: T
    reasoning: str
    record: CallRecord
    message_id: str


async def call_agent[T: BaseModel](
    ctx: DeskContext,
    *,
    agent: str,
    prompt: Prompt,
    schema: type[T],
    fallback: Callable[[str], T],
    run_id: str | None,
    writer: StreamWriter | None,
) -> AgentCall[T]:
    """One agent call; log lines inside it carry the agent (and run) as context."""
    with log_context(agent=agent, run_id=run_id):
        call = await _call_agent(
            ctx,
            agent=agent,
            prompt=prompt,
            schema=schema,
            fallback=fallback,
            run_id=run_id,
            writer=writer,
        )
    if call.record.fallback:
        observe_llm_fallback(
            agent=agent, model=call.record.model, provider=ctx.settings.llm_provider.value
        )
    return call


async def _call_agent[T: BaseModel](
    ctx: DeskContext,
    *,
    agent: str,
    prompt: Prompt,
    schema: type[T],
    fallback: Callable[[str], T],
    run_id: str | None,
    writer: StreamWriter | None,
) -> AgentCall[T]:
    assert ctx.model_client is not None and ctx.cost_log is not None and ctx.budget is not None
    client = ctx.model_client
    model = client.model_for(agent)
    message_id = f"{agent}-{_MESSAGE_ID_PREFIX}{next(_message_numbers):x}"
    on_token: Callable[[str], None] | None = None
    if writer is not None and ctx.stream_tokens:

        def on_token(piece: str) -> None:
            writer({"event": "token", "node": agent, "message_id": message_id, "text": piece})

    metered = client.metered
    key = cache_key(model, prompt.text) if metered and ctx.use_cache and ctx.cache else None
    if key is not None and ctx.cache is not None:
        hit = ctx.cache.get(key)
        if hit is not None:
            parsed, reasoning = parse_reply(hit.text, schema)
            if on_token is not None:
                on_token(reasoning)
            ctx.cost_log.record(run_id=run_id, agent=agent, model=model, cached=True)
            return AgentCall(
                parsed, reasoning, CallRecord(agent=agent, model=model, cached=True), message_id
            )

    # Totals over the attempts (a repair is a second paid call), kept in locals: this runs six
    # times per decision and a pydantic record is built once, at the end.
    prompt_tokens = completion_tokens = 0
    spent_usd = latency_ms = 0.0
    error = ""

    def tally(**flags: Any) -> CallRecord:
        return CallRecord(
            agent=agent,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=spent_usd,
            latency_ms=latency_ms,
            **flags,
        )

    for attempt in range(2):
        if metered:
            ctx.budget.check(model, prompt.text)
        started = monotonic_ms()
        try:
            reply: ModelReply = await client.generate(agent, prompt, schema, on_token)
        except BudgetExceededError:
            raise
        except Exception as exc:  # provider failure: logged, then the safe fallback
            error = f"{type(exc).__name__}: {exc}"
            ctx.cost_log.record(
                run_id=run_id,
                agent=agent,
                model=model,
                latency_ms=monotonic_ms() - started,
                ok=False,
                error=error,
            )
            break
        latency = monotonic_ms() - started
        usage = reply.usage
        cost = cost_usd(ctx.settings, reply.model, usage.prompt_tokens, usage.completion_tokens)
        if metered:
            ctx.budget.add(usage.prompt_tokens + usage.completion_tokens, cost)
        prompt_tokens += usage.prompt_tokens
        completion_tokens += usage.completion_tokens
        spent_usd += float(cost)
        latency_ms += latency
        parse_error: OutputParseError | None = None
        try:
            if reply.parsed is not None and isinstance(reply.parsed, schema):
                parsed, reasoning = reply.parsed, reply.text
            else:
                parsed, reasoning = parse_reply(reply.text, schema)
        except OutputParseError as exc:
            parse_error = exc
            error = f"attempt {attempt + 1}: {exc}"
        # One cost-log row per paid call; an unparseable reply keeps its raw text for review.
        ctx.cost_log.record(
            run_id=run_id,
            agent=agent,
            model=reply.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            latency_ms=latency,
            ok=parse_error is None,
            error=error if parse_error is not None else None,
            raw_output=reply.text if parse_error is not None else None,
        )
        if parse_error is not None:
            prompt = prompt.with_repair(reply.text, str(parse_error))
            continue
        if key is not None and ctx.cache is not None:
            ctx.cache.put(key, reply)
        return AgentCall(parsed, reasoning or "", tally(repaired=attempt > 0), message_id)

    reasoning = f"[fallback after failed output: {error}]"
    return AgentCall(fallback(error), reasoning, tally(fallback=True, error=error), message_id)
