"""Human approval before an order: the interrupt payload in the shape the LangGraph chat clients
(Agent Chat UI, Agent Inbox, Studio) render — `HumanInterrupt` {action_request {action, args},
config {allow_accept, allow_ignore, allow_respond, allow_edit}, description} — and the reading
of every answer they (or the firm's API) send back:

- `{"type": "accept"}` → execute the decision as clamped;
- `{"type": "ignore"}` → skip it;
- `{"type": "edit", "args": {"action": ..., "args": {"size_pct": ...}}}` → execute with a
  smaller size (an edit can only shrink the order: the risk clamp already had the last word);
- `{"approved": bool, "note": str}` → the firm's API (`/approve`, `/reject`).

Clients send a list of responses (one per request); the first one is read.
"""

from __future__ import annotations

from typing import Any, TypedDict

from graph.schemas import FinalDecision


# The shape of `langgraph.prebuilt.interrupt` (deprecated there since LangGraph 1.0, still what
# Agent Chat UI and Agent Inbox render), declared here so the contract is ours to test.
class ActionRequest(TypedDict):
    action: str
    args: dict[str, Any]


class HumanInterruptConfig(TypedDict):
    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class HumanInterrupt(TypedDict):
    action_request: ActionRequest
    config: HumanInterruptConfig
    description: str | None


ACTION = "execute_order"


def approval_request(decision: FinalDecision, symbol: str) -> HumanInterrupt:
    args: dict[str, Any] = {
        "symbol": symbol,
        "side": decision.action,
        "size_pct": decision.size_pct,
        "entry": decision.entry,
        "stop_loss": decision.stop_loss,
        "take_profit": decision.take_profit,
    }
    size = "% of equity" if decision.action == "buy" else "% of the position"
    clamps = f" Risk checks: {'; '.join(decision.reasons)}." if decision.reasons else ""
    description = (
        f"Approve a paper {decision.action.upper()} of {symbol}: {decision.size_pct:.2f}{size} "
        f"at ~{decision.entry}, stop {decision.stop_loss}, target {decision.take_profit}.{clamps}"
        " Accept to execute, ignore to skip, edit `size_pct` to trade less."
    )
    return HumanInterrupt(
        action_request=ActionRequest(action=ACTION, args=args),
        config=HumanInterruptConfig(
            allow_accept=True, allow_ignore=True, allow_respond=False, allow_edit=True
        ),
        description=description,
    )


class ApprovalAnswerError(ValueError):
    """The resume value is not an answer this interrupt understands."""


def _edited(decision: FinalDecision, args: Any) -> FinalDecision:
    fields = args.get("args", args) if isinstance(args, dict) else None
    if not isinstance(fields, dict) or "size_pct" not in fields:
        raise ApprovalAnswerError("edit: expected args {'args': {'size_pct': <number>}}")
    try:
        size = float(fields["size_pct"])
    except (TypeError, ValueError) as exc:
        raise ApprovalAnswerError(f"edit: size_pct {fields['size_pct']!r} is not a number") from exc
    if not 0 < size <= decision.size_pct:
        raise ApprovalAnswerError(
            f"edit: size_pct must be > 0 and at most the approved {decision.size_pct}"
        )
    return decision.model_copy(
        update={"size_pct": size, "reasons": [*decision.reasons, f"size edited to {size}%"]}
    )


def read_approval(answer: Any, decision: FinalDecision) -> tuple[FinalDecision | None, str]:
    """(decision to execute or None, note). Raises `ApprovalAnswerError` on nonsense."""
    if isinstance(answer, list):
        if not answer:
            raise ApprovalAnswerError("resume: an empty list of responses")
        answer = answer[0]
    if isinstance(answer, dict) and "approved" in answer:
        note = str(answer.get("note") or "")
        if answer["approved"]:
            return decision, note
        return None, note or "rejected by a human"
    if not isinstance(answer, dict) or "type" not in answer:
        raise ApprovalAnswerError(
            "resume: expected a HumanResponse {'type': 'accept'|'ignore'|'edit', 'args': ...} "
            "or {'approved': bool}"
        )
    kind = answer["type"]
    if kind == "accept":
        return decision, "accepted"
    if kind == "ignore":
        return None, "ignored by a human: not executed"
    if kind == "edit":
        return _edited(decision, answer.get("args")), "edited"
    raise ApprovalAnswerError(f"resume: response type {kind!r} is not allowed here")
