"""Chat in: `intake`, the desk's first node, turns a user turn into a request.

A new user message is read as an analysis request (symbol, interval, optional "as of", trade
or not), as a follow-up question about the thread's last decision, or as neither. The rules
engine uses the deterministic `parse_request`; a real model extracts a `ChatRequest` on the
cheap tier (the parser is its fallback). Structured input (`symbol`, `interval`, ...) without a
new message is a request as it stands (API, CLI, backtests, Studio's form).

Every analysis turn starts from fresh facts: the per-turn fields are reset here (the snapshot
only when `prepare` loaded it; a caller's snapshot is kept) while `messages` and `last_turn`
carry over. Questions and unclear turns are answered here and end the run.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from graph.chat_answers import answer_question, final_answer
from graph.chat_models import ChatRequest, TurnRecord
from graph.state import IntakeInput, ReportInput
from tools.intervals import INTERVAL_MS
from tools.synthetic import REFERENCE_PRICES, STABLE_QUOTES

DESK_NAME = "desk"
"""`name` of the desk's own messages (answers, clarifications), beside the six agents'."""

EXAMPLE = "say e.g. 'analyze ETHUSDT 4h', 'analyze and trade BTCUSDT 1h' or 'why?'"

_SYMBOL = re.compile(r"\b([A-Za-z0-9]{2,12})(?:[/_-]([A-Za-z]{3,5}))?\b")
_INTERVAL = re.compile(
    r"\b(\d{1,2})\s*-?\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\b", re.IGNORECASE
)
_INTERVAL_WORDS = {"hourly": "1h", "daily": "1d", "weekly": "1w"}
_AS_OF = re.compile(
    r"\b(?:as of|as at|at|on)\s+(\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?)",
    re.IGNORECASE,
)
_NO_TRADE = re.compile(
    r"\b(?:don'?t|do not|no|without|never)\s+(?:trad|execut|order)|\banalysis only\b",
    re.IGNORECASE,
)
_TRADE = re.compile(
    r"\b(?:trade|trading|execute|place (?:an? |the )?order|paper[- ]trade|go ahead)\b",
    re.IGNORECASE,
)
_ANALYZE = re.compile(
    r"\b(?:analy[sz]e|analysis|look at|check|run|what about|how about|and)\b", re.IGNORECASE
)
_AGAIN = re.compile(r"\b(?:analy[sz]e|again|refresh|re-?run)\b", re.IGNORECASE)
_QUESTION = re.compile(
    r"^\s*(?:why|what|how|explain|should|would|could|is|are|when|tell|which|so)\b",
    re.IGNORECASE,
)
# Words that look like tickers but are English (a bare base needs to be a known coin anyway).
_KNOWN_BASES = frozenset(REFERENCE_PRICES)
_UNIT = {"m": "m", "h": "h", "d": "d", "w": "w"}


def _symbol_in(text: str) -> str | None:
    for match in _SYMBOL.finditer(text):
        base, quote = match.group(1).upper(), (match.group(2) or "").upper()
        if quote:
            if quote in STABLE_QUOTES and base.isalnum():
                return base + quote
            continue
        for stable in STABLE_QUOTES:
            if base.endswith(stable) and len(base) > len(stable) + 1:
                return base
        if base in _KNOWN_BASES:
            return base + "USDT"
    return None


def _interval_in(text: str) -> tuple[str | None, str | None]:
    """(interval, error): the interval named in `text`, or why the one named is not valid."""
    match = _INTERVAL.search(text)
    if match is None:
        for word, interval in _INTERVAL_WORDS.items():
            if re.search(rf"\b{word}\b", text, re.IGNORECASE):
                return interval, None
        return None, None
    unit = match.group(2).lower()
    interval = f"{int(match.group(1))}{_UNIT['m' if unit.startswith('m') else unit[0]]}"
    if interval not in INTERVAL_MS:
        return None, f"interval {interval!r} is not one of {', '.join(INTERVAL_MS)}"
    return interval, None


def _as_of_in(text: str) -> tuple[datetime | None, str | None]:
    match = _AS_OF.search(text)
    if match is None:
        return None, None
    try:
        moment = datetime.fromisoformat(match.group(1))
    except ValueError:
        return None, f"as of: {match.group(1)!r} is not a date; write e.g. 2023-06-01 12:00 (UTC)"
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), None


def parse_request(text: str, last: TurnRecord | None = None) -> tuple[ChatRequest, str | None]:
    """The rules engine's reading of a user message: (request, error). Deterministic.

    A symbol, an interval or an analysis verb makes it an analysis request (a missing symbol
    or interval comes from the last turn, the interval defaults to 1h); a question with none
    of those is a follow-up about the last decision. `error` explains an unclear turn."""
    symbol = _symbol_in(text)
    interval, interval_error = _interval_in(text)
    as_of, as_of_error = _as_of_in(text)
    if interval_error or as_of_error:
        return ChatRequest(kind="unclear", text=text), interval_error or as_of_error
    questioning = bool(_QUESTION.match(text)) and not _ANALYZE.search(text)
    named = symbol is not None or interval is not None or as_of is not None
    if questioning or not (named or _AGAIN.search(text)):
        if questioning or "?" in text:
            return ChatRequest(kind="question", question=text.strip(), text=text), None
        return ChatRequest(kind="unclear", text=text), None
    if symbol is None:
        if last is None:
            return ChatRequest(kind="unclear", text=text), "which pair? name a symbol"
        symbol = last.symbol
    if interval is None:
        interval = last.interval if last is not None and symbol == last.symbol else "1h"
    execute = bool(_TRADE.search(text)) and not _NO_TRADE.search(text)
    request = ChatRequest(
        kind="analyze", symbol=symbol, interval=interval, as_of=as_of, execute=execute, text=text
    )
    return request, None


def unclear_reply(error: str | None) -> str:
    head = (
        f"I could not read that as a request ({error})."
        if error
        else ("I could not read that as a request.")
    )
    return f"{head} To run the desk, {EXAMPLE}."


PER_TURN_RESET: dict[str, Any] = {
    "sentiment_inputs": None,
    "tokenomics_inputs": None,
    "portfolio": None,
    "thesis": None,
    "proposal": None,
    "review": None,
    "decision": None,
    "execution": None,
}
"""Fields a new analysis turn starts without (plus the reducer channels, overwritten below)."""


def turn_reset(state: IntakeInput) -> dict[str, Any]:
    update: dict[str, Any] = {
        **PER_TURN_RESET,
        "turn_id": uuid.uuid4().hex,
        "reports": Overwrite({}),
        "calls": Overwrite([]),
        "warnings": [],
    }
    # A snapshot left from an earlier turn (loaded by a turn that failed, or the last turn's)
    # is dropped; one the caller passed with this turn's input stays.
    last = state.last_turn.snapshot if state.last_turn is not None else None
    if state.snapshot is not None and (state.snapshot_loaded or state.snapshot == last):
        update["snapshot"] = None
        update["snapshot_loaded"] = False
    return update


def _new_user_message(state: IntakeInput) -> HumanMessage | None:
    if not state.messages or not isinstance(state.messages[-1], HumanMessage):
        return None
    message = state.messages[-1]
    return None if message.id is not None and message.id == state.handled_message_id else message


def message_text(message: HumanMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
    return " ".join(part for part in parts if part)


async def understand(
    text: str, last: TurnRecord | None, runtime: Runtime[Any]
) -> tuple[ChatRequest, str | None]:
    """The rules parser offline; a real model's structured extraction otherwise."""
    from graph.agents.base import desk_context

    ctx = desk_context(runtime)
    parsed, error = parse_request(text, last)
    assert ctx.model_client is not None
    if not ctx.model_client.metered:
        return parsed, error
    from graph.chat_extract import extract_request

    return await extract_request(runtime, text, last, fallback=(parsed, error))


async def intake_node(state: IntakeInput, runtime: Runtime[Any]) -> dict[str, Any]:
    message = _new_user_message(state)
    if message is None:  # structured input: the fields as the caller set them
        request = ChatRequest(
            kind="analyze",
            symbol=state.symbol,
            interval=state.interval,
            as_of=state.as_of,
            execute=bool(state.execute),
        )
        return {**turn_reset(state), "request": request}
    text = message_text(message)
    request, error = await understand(text, state.last_turn, runtime)
    update: dict[str, Any] = {"request": request, "handled_message_id": message.id}
    if request.kind == "analyze":
        assert request.symbol is not None and request.interval is not None
        return {
            **update,
            **turn_reset(state),
            "symbol": request.symbol,
            "interval": request.interval,
            "as_of": request.as_of,
            "execute": request.execute,
        }
    if request.kind == "question":
        reply = answer_question(request.question or text, state.last_turn, EXAMPLE)
    else:
        reply = unclear_reply(error)
    return {**update, "messages": [AIMessage(content=reply, name=DESK_NAME)]}


def route_entry(state: IntakeInput) -> Literal["intake", "prepare"]:
    """A fresh invocation of structured fields (a backtest bar, an API run on its own thread)
    has nothing to read or reset: straight to `prepare`, one superstep less per decision.
    Anything with a conversation, an earlier turn or a failed turn's snapshot on the thread
    goes through `intake`."""
    fresh = not state.messages and state.last_turn is None and not state.snapshot_loaded
    return "prepare" if fresh else "intake"


def route_after_intake(state: IntakeInput) -> Literal["prepare", "__end__"]:
    request = state.request
    return "prepare" if request is not None and request.kind == "analyze" else "__end__"


async def report_node(state: ReportInput) -> dict[str, Any]:
    """End of an analysis turn: the desk's answer as a message, and the turn's record."""
    turn = TurnRecord(
        symbol=state.symbol,
        interval=state.interval,
        snapshot=state.snapshot,
        reports=state.reports,
        thesis=state.thesis,
        proposal=state.proposal,
        review=state.review,
        decision=state.decision,
        execution=state.execution,
        warnings=state.warnings,
    )
    return {
        "messages": [AIMessage(content=final_answer(turn), name=DESK_NAME)],
        "last_turn": turn,
        # The turn's own inputs do not leak into the next structured turn.
        "as_of": None,
        "execute": None,
        "snapshot_loaded": False,
    }
