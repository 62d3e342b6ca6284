"""One agent call, the way every agent makes it, inside its graph node:

recording (answer cache / replay) → circuit breaker → budget reservation → the provider's chat
model, streamed (its chunks reach LangGraph's `messages` mode through the callbacks; the
reasoning also goes to the custom stream as `token` events, one message id per attempt) →
validate → one repair → safe fallback. Every attempt is accounted: provider usage when it
came, a tokenizer count for a stream that broke off; every attempt is a row in `agent_logs`
(buffered) and the sum is the call's `CallRecord`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.logging import log_context
from core.metrics import observe_llm_fallback
from graph.breaker import CircuitBreaker, ProviderUnavailableError
from graph.budget import BudgetExceededError, Reservation
from graph.costs import cost_usd
from graph.llm_cache import Recorded, ReplayMissError, cache_key
from graph.llm_parse import OutputParseError, ReasoningTap, parse_reply, validate_answer
from graph.models import ANALYSTS, DECIDERS, Prompt, monotonic_ms
from graph.schemas import CallRecord
from graph.tokens import count_tokens

if TYPE_CHECKING:
    from graph.context import DeskContext

__all__ = [
    "AgentCall",
    "OutputParseError",
    "call_agent",
    "parse_reply",
    "run_outcome",
    "stream_words",
]

StreamWriter = Callable[[Any], None]

_WORDS = re.compile(r"\S+\s*|\s+")

# Ids for messages no model named (cached answers, fallbacks): unique within a thread, also
# across a crash and resume in another process: a random per-process prefix plus a counter.
_MESSAGE_ID_PREFIX = secrets.token_hex(4)
_message_numbers = itertools.count(1)


def _new_message_id(agent: str) -> str:
    return f"{agent}-{_MESSAGE_ID_PREFIX}{next(_message_numbers):x}"


def stream_words(text: str, emit: Callable[[str], None]) -> None:
    """Emit text the way a model streams it: word by word, whitespace kept."""
    for piece in _WORDS.findall(text):
        emit(piece)


def run_outcome(calls: list[CallRecord]) -> tuple[str, str | None]:
    """(status, reason) of a decision from its calls: `completed` when every agent answered;
    `failed` when the decision could not be made (the researcher, trader or risk manager fell
    back, or all three analysts did); `degraded` when only some analysts fell back."""
    fell = [c for c in calls if c.fallback]
    if not fell:
        return "completed", None
    reason = "; ".join(f"{c.agent}: {c.error}" for c in fell)
    deciders = [c for c in fell if c.agent in DECIDERS]
    analysts = {c.agent for c in fell if c.agent in ANALYSTS}
    if deciders or len(analysts) == len(ANALYSTS):
        return "failed", f"the decision could not be made ({len(fell)} agents fell back): {reason}"
    return "degraded", f"{len(fell)} agent(s) fell back: {reason}"


@dataclass
class AgentCall[T: BaseModel]:
    output: T
    reasoning: str
    record: CallRecord
    message_id: str


class StreamCutError(ConnectionError):
    """The stream ended without a finish reason: the answer was cut off in transit."""


@dataclass
class _Attempt:
    """What one model call produced (possibly cut short)."""

    text: str = ""
    args: dict[str, Any] | None = None
    message_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


async def _stream_call(
    runnable: Any,
    prompt: Prompt,
    agent: str,
    emit: Callable[[str, str], None] | None,
    *,
    in_process: bool = False,
) -> tuple[_Attempt, BaseException | None]:
    """Stream (or, with nobody listening, invoke) one call. Returns what arrived and the
    exception that cut it short, if any: a broken stream still has its text for accounting.
    An in-process model (no I/O: the rules engine) is invoked synchronously when nobody
    streams: the same chat-model call without the asyncio task LangChain's ainvoke adds."""
    got = _Attempt()
    config: Any = {"run_name": agent}
    text: list[str] = []  # what streamed so far (kept when the stream breaks)
    args: list[str] = []
    try:
        if emit is None:
            if in_process:
                message = runnable.invoke(prompt.messages(), config=config)
            else:
                message = await runnable.ainvoke(prompt.messages(), config=config)
            got.message_id = message.id
            got.text = message.content if isinstance(message.content, str) else ""
            if message.tool_calls:
                got.args = dict(message.tool_calls[0]["args"])
            usage = message.usage_metadata
            if usage:
                got.prompt_tokens = int(usage.get("input_tokens", 0))
                got.completion_tokens = int(usage.get("output_tokens", 0))
            return got, None
        finished = False
        text_tap, args_tap = ReasoningTap(), ReasoningTap()
        async for chunk in runnable.astream(prompt.messages(), config=config):
            if got.message_id is None and chunk.id:
                got.message_id = chunk.id
            if chunk.response_metadata.get("finish_reason"):
                finished = True
            piece = chunk.content if isinstance(chunk.content, str) else ""
            fed = ""
            if piece:
                text.append(piece)
                fed = text_tap.feed(piece)
            for tool_chunk in chunk.tool_call_chunks or ():
                delta = tool_chunk.get("args")
                if delta:
                    args.append(delta)
                    if not text:  # a tool-calling answer: its reasoning is in the arguments
                        fed += args_tap.feed(delta)
            if fed:
                emit(got.message_id or agent, fed)
            usage = chunk.usage_metadata
            if usage:
                got.prompt_tokens = (got.prompt_tokens or 0) + int(usage.get("input_tokens", 0))
                got.completion_tokens = (got.completion_tokens or 0) + int(
                    usage.get("output_tokens", 0)
                )
        got.text = "".join(text)
        if not finished:
            raise StreamCutError(
                f"the stream ended without a finish reason after {len(got.text)} characters"
            )
        if args:
            try:
                decoded = json.loads("".join(args))
            except json.JSONDecodeError:
                decoded = None
            got.args = decoded if isinstance(decoded, dict) else None
            if got.args is None:  # unparseable tool arguments: validate them as text
                got.text = got.text or "".join(args)
        return got, None
    except (BudgetExceededError, ReplayMissError):
        raise
    except Exception as exc:  # transport failure or a stream cut off mid-way
        got.text = got.text or "".join(text)
        return got, exc


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
        try:
            call = await _call_agent(
                ctx,
                agent=agent,
                prompt=prompt,
                schema=schema,
                fallback=fallback,
                run_id=run_id,
                writer=writer,
            )
        finally:
            if ctx.cost_log is not None and ctx.cost_log.unsaved_spend:
                await asyncio.shield(asyncio.to_thread(ctx.cost_log.flush))
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
    client, log = ctx.model_client, ctx.cost_log
    breaker: CircuitBreaker = ctx.breaker or CircuitBreaker(ctx.settings.llm_breaker_failures)
    model = client.model_for(agent)
    metered = client.metered
    recording = ctx.cache if metered and ctx.use_cache else None

    emit: Callable[[str, str], None] | None = None
    if writer is not None and ctx.stream_tokens:

        def emit(message_id: str, piece: str) -> None:
            writer({"event": "token", "node": agent, "message_id": message_id, "text": piece})

    # Totals over the attempts (a repair is a second paid call), kept in locals: this runs six
    # times per decision and a pydantic record is built once, at the end.
    prompt_tokens = completion_tokens = calls = 0
    spent = Decimal(0)
    latency_ms = 0.0
    error = ""
    flags: dict[str, bool] = {}

    def tally(**more: Any) -> CallRecord:
        return CallRecord(
            agent=agent,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=float(spent),
            latency_ms=latency_ms,
            attempts=calls,
            **flags,
            **more,
        )

    for attempt in range(2):
        key = cache_key(model, prompt.text, attempt) if recording is not None else None
        hit = recording.get(key) if recording is not None and key is not None else None
        message_id: str | None = None
        if hit is not None:
            flags["cached"] = True
            got = _Attempt(text=hit.text, args=hit.args)
            prompt_tokens += hit.prompt_tokens
            completion_tokens += hit.completion_tokens
            spent += hit.cost_usd
            log.record(run_id=run_id, agent=agent, model=model, cached=True)
        else:
            if metered and ctx.settings.llm_replay:
                raise ReplayMissError(
                    f"replay: no recorded {model} response for {agent} (attempt {attempt + 1}); "
                    "record it first with LLM_REPLAY=false"
                )
            try:
                breaker.check(client.provider)
            except ProviderUnavailableError as exc:
                error = str(exc)
                flags["transport_error"] = True
                log.record(run_id=run_id, agent=agent, model=model, ok=False, error=error)
                break
            reservation: Reservation | None = (
                ctx.budget.reserve(model, prompt.texts) if metered else None
            )
            started = monotonic_ms()
            runnable = client.chat_model(agent, prompt, schema)
            try:
                got, failure = await _stream_call(
                    runnable, prompt, agent, emit, in_process=getattr(client, "in_process", False)
                )
            except BaseException:  # cancelled (a sibling hit the budget) or a budget error
                if reservation is not None:
                    ctx.budget.settle(reservation, 0, Decimal(0))
                raise
            latency = monotonic_ms() - started
            calls += 1
            estimated = got.prompt_tokens is None and metered and bool(got.text or got.args)
            p_tok = got.prompt_tokens or 0
            c_tok = got.completion_tokens or 0
            if estimated:  # cut before usage arrived: count what was sent and streamed
                p_tok = sum(count_tokens(model, t) for t in prompt.texts)
                c_tok = count_tokens(model, got.text)
                flags["estimated_tokens"] = True
            cost = cost_usd(ctx.settings, model, p_tok, c_tok)
            if reservation is not None:
                ctx.budget.settle(reservation, p_tok + c_tok, cost)
            prompt_tokens += p_tok
            completion_tokens += c_tok
            spent += cost
            latency_ms += latency
            if failure is not None:
                error = f"{type(failure).__name__}: {failure}".strip()
                breaker.failure(client.provider, error)
                flags["transport_error"] = True
                log.record(
                    run_id=run_id,
                    agent=agent,
                    model=model,
                    prompt_tokens=p_tok,
                    completion_tokens=c_tok,
                    cost=cost,
                    latency_ms=latency,
                    ok=False,
                    error=error,
                    raw_output=got.text or None,
                )
                break
            breaker.success(client.provider)
            message_id = got.message_id
            if recording is not None and key is not None:
                recording.put(
                    key,
                    Recorded(model, got.text, got.args, p_tok, c_tok, cost, estimated),
                )
        parse_error: OutputParseError | None = None
        try:
            if got.args is not None:
                parsed, reasoning = validate_answer(got.args, schema)
                reasoning = reasoning or got.text
            else:
                parsed, reasoning = parse_reply(got.text, schema)
        except OutputParseError as exc:
            parse_error = exc
            error = f"attempt {attempt + 1}: {exc}"
        if hit is None:
            log.record(
                run_id=run_id,
                agent=agent,
                model=model,
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
                cost=cost,
                latency_ms=latency,
                ok=parse_error is None,
                error=error if parse_error is not None else None,
                raw_output=got.text if parse_error is not None else None,
            )
        if parse_error is not None:
            prompt = prompt.with_repair(got.text or str(got.args), str(parse_error))
            continue
        message_id = message_id or _new_message_id(agent)
        if hit is not None and emit is not None:
            emit(message_id, reasoning)
        return AgentCall(parsed, reasoning or "", tally(repaired=attempt > 0), message_id)

    reasoning = f"[fallback after failed output: {error}]"
    message_id = _new_message_id(agent)
    if emit is not None:
        emit(message_id, reasoning)
    return AgentCall(fallback(error), reasoning, tally(fallback=True, error=error), message_id)
