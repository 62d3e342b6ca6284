"""Human approval before an order: the interrupt payload and the reading of every answer to it.

The payload is LangChain 1.0's human-in-the-loop request (`HITLRequest` of
`langchain.agents.middleware.human_in_the_loop`, what `HumanInTheLoopMiddleware` raises and what
Agent Chat UI draws Approve / Edit / Reject buttons for):
`{"action_requests": [{"name": "execute_order", "args": {...}, "description": ...}],
"review_configs": [{"action_name": "execute_order", "allowed_decisions": [...]}]}`.

Answers understood (one order per request, so one decision):
- `HITLResponse` `{"decisions": [decision]}`, or the bare decision: `{"type": "approve"}` →
  execute the decision as clamped; `{"type": "reject", "message": ...}` → skip it;
  `{"type": "edit", "edited_action": {"name": "execute_order", "args": {"size_pct": ...}}}` →
  execute a smaller order (an edit can only shrink `size_pct`: the risk clamp already had the
  last word; every other arg must stay as requested);
- the older `langgraph.prebuilt` `HumanResponse` list, for clients of the previous format:
  `[{"type": "accept" | "ignore"}]`, `[{"type": "edit", "args": {"action": ..., "args": {...}}}]`;
- `{"approved": bool, "note": str}` → the firm's API (`/approve`, `/reject`).

An answer that cannot be honoured raises `ApprovalAnswerError`, whose message says why; the
execute node then asks again (see `graph.execute`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graph.schemas import FinalDecision

if TYPE_CHECKING:  # LangChain's own types (importing them at run time costs the CLI ~0.4 s)
    from langchain.agents.middleware.human_in_the_loop import (
        ActionRequest,
        HITLRequest,
        ReviewConfig,
    )

ACTION = "execute_order"
DECISIONS = ("approve", "edit", "reject")
EDITABLE = "size_pct"


def _price(value: float) -> float:
    return round(value, 2) if value >= 1 else float(f"{value:.6g}")


def order_args(decision: FinalDecision, symbol: str) -> dict[str, Any]:
    """The order as the reviewer sees (and may edit) it; absent levels are left out."""
    args: dict[str, Any] = {"symbol": symbol, "side": decision.action, EDITABLE: decision.size_pct}
    for name in ("entry", "stop_loss", "take_profit"):
        value = getattr(decision, name)
        if value is not None:
            args[name] = _price(value)
    return args


def describe(decision: FinalDecision, symbol: str, refused: str | None = None) -> str:
    """What the reviewer reads above the buttons (Markdown)."""
    what = "of equity" if decision.action == "buy" else "of the position"
    order = f"Paper **{decision.action.upper()} {symbol}**, {decision.size_pct:.2f}% {what}"
    levels = [
        f"{label} ~{_price(value):,}"
        for label, value in (
            ("at", decision.entry),
            ("stop-loss", decision.stop_loss),
            ("take-profit", decision.take_profit),
        )
        if value is not None
    ]
    parts = [order + (f" ({', '.join(levels)})" if levels else "") + "."]
    if decision.reasons:
        parts.append("Risk checks: " + "; ".join(decision.reasons) + ".")
    parts.append(
        "Approve to place the order, reject to skip it, or edit `size_pct` to trade less "
        "(the other fields cannot change)."
    )
    if refused:
        parts.insert(0, f"**Your last answer was not applied:** {refused}.")
    return "\n\n".join(parts)


def approval_request(
    decision: FinalDecision, symbol: str, refused: str | None = None
) -> HITLRequest:
    """The interrupt value: one `execute_order` action request and its review config.
    `refused`: why the previous answer to this request was not applied (said first)."""
    action: ActionRequest = {
        "name": ACTION,
        "args": order_args(decision, symbol),
        "description": describe(decision, symbol, refused),
    }
    review: ReviewConfig = {
        "action_name": ACTION,
        "allowed_decisions": ["approve", "edit", "reject"],
    }
    return {"action_requests": [action], "review_configs": [review]}


class ApprovalAnswerError(ValueError):
    """The resume value is not an answer this interrupt can honour."""


def _same(given: Any, requested: Any) -> bool:
    if given == requested:
        return True
    try:  # a chat client's edit form sends every field back as text
        return float(given) == float(requested)
    except (TypeError, ValueError):
        return str(given).strip() == str(requested)


def _edited(decision: FinalDecision, symbol: str, name: Any, fields: Any) -> FinalDecision:
    if name is not None and name != ACTION:
        raise ApprovalAnswerError(f"edit: the action is {ACTION!r}, not {name!r}")
    if not isinstance(fields, dict) or EDITABLE not in fields:
        raise ApprovalAnswerError(f"edit: expected the order's args with {EDITABLE}")
    requested = order_args(decision, symbol)
    changed = [
        key
        for key, value in fields.items()
        if key != EDITABLE and not (key in requested and _same(value, requested[key]))
    ]
    if changed:
        raise ApprovalAnswerError(
            f"edit: only {EDITABLE} can change, not {', '.join(sorted(changed))}"
        )
    try:
        size = float(fields[EDITABLE])
    except (TypeError, ValueError) as exc:
        raise ApprovalAnswerError(f"edit: {EDITABLE} {fields[EDITABLE]!r} is not a number") from exc
    if not 0 < size <= decision.size_pct:
        raise ApprovalAnswerError(
            f"edit: {EDITABLE} must be > 0 and at most the approved {decision.size_pct:g} "
            f"(an edit can only shrink the order), not {size:g}"
        )
    return decision.model_copy(
        update={"size_pct": size, "reasons": [*decision.reasons, f"size edited to {size:g}%"]}
    )


def _edit_note(edited: FinalDecision, decision: FinalDecision) -> str:
    cut, approved = f"{edited.size_pct:g}%", f"{decision.size_pct:g}%"
    return f"a human cut the size to {cut} (the desk approved {approved})"


def _one(answer: Any) -> Any:
    """The single decision of an answer: `HITLResponse`, a list of responses, or bare."""
    if isinstance(answer, dict) and "decisions" in answer:
        answer = answer["decisions"]
        if not isinstance(answer, list):
            raise ApprovalAnswerError("decisions: expected a list with one decision")
    if isinstance(answer, list):
        if len(answer) != 1:
            raise ApprovalAnswerError(
                f"decisions: expected exactly one (one {ACTION} request), got {len(answer)}"
            )
        return answer[0]
    return answer


def read_approval(
    answer: Any, decision: FinalDecision, symbol: str
) -> tuple[FinalDecision | None, str]:
    """(decision to execute or None, note). Raises `ApprovalAnswerError` on nonsense."""
    answer = _one(answer)
    if isinstance(answer, dict) and "approved" in answer:
        note = str(answer.get("note") or "")
        if answer["approved"]:
            return decision, note or "approved by a human"
        return None, note or "rejected by a human"
    if not isinstance(answer, dict) or "type" not in answer:
        raise ApprovalAnswerError(
            "resume: expected {'decisions': [{'type': 'approve'|'edit'|'reject', ...}]} "
            "or {'approved': bool}"
        )
    kind = answer["type"]
    if kind in ("approve", "accept"):
        return decision, "approved by a human"
    if kind in ("reject", "ignore"):
        message = str(answer.get("message") or "").strip()
        note = "rejected by a human" if kind == "reject" else "ignored by a human"
        return None, note + (f": {message}" if message else "")
    if kind == "edit":
        if "edited_action" in answer:  # HITL 1.0
            action = answer["edited_action"]
            if not isinstance(action, dict):
                raise ApprovalAnswerError("edit: edited_action must be {'name', 'args'}")
            edited = _edited(decision, symbol, action.get("name"), action.get("args"))
            return edited, _edit_note(edited, decision)
        old = answer.get("args")  # the older HumanResponse: args {action, args}
        if not isinstance(old, dict):
            raise ApprovalAnswerError(f"edit: expected args {{'args': {{'{EDITABLE}': ...}}}}")
        name, fields = old.get("action"), old.get("args", old)
        edited = _edited(decision, symbol, name, fields)
        return edited, _edit_note(edited, decision)
    raise ApprovalAnswerError(
        f"resume: decision type {kind!r} is not allowed here (one of {', '.join(DECISIONS)})"
    )
