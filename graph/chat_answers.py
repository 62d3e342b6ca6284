"""Desk out: the turn's final answer (decision, size, stop/target, the risk clamps, what was
executed, every data warning) and the answers to follow-up questions, written from a
`TurnRecord` only — the thread's last decision and the reports it was built from.

Answers are Markdown, as chat clients render them: paragraphs separated by a blank line, lists
as `- ` items after a blank line (a single line break would be joined into one paragraph).
A value that is absent (no stop-loss, no entry) is left out, never printed as "none".
"""

from __future__ import annotations

import re

from graph.chat_models import TurnRecord
from graph.schemas import ExecutionResult, FinalDecision, ResearchThesis, TradeProposal

ANALYSTS = ("technical", "sentiment", "tokenomics")


def _price(value: float) -> str:
    return f"{value:,.2f}" if value >= 1 else f"{value:.6g}"


def _block(*paragraphs: str) -> str:
    return "\n\n".join(p for p in paragraphs if p)


def _bullets(items: list[str], head: str = "") -> str:
    """A Markdown list (after its heading paragraph); empty without items."""
    if not items:
        return ""
    listed = "\n".join(f"- {item}" for item in items)
    return f"{head}\n\n{listed}" if head else listed


def data_line(turn: TurnRecord) -> str:
    snap = turn.snapshot
    if snap is None:
        return f"{turn.symbol} {turn.interval}: no snapshot"
    return (
        f"{turn.symbol} {turn.interval}, {snap.source} candles, decision bar opened "
        f"{snap.as_of:%Y-%m-%d %H:%M} UTC, close {_price(snap.close)}"
    )


def _levels(order: FinalDecision | TradeProposal) -> str:
    """'stop-loss X, take-profit Y' with only the levels the order has."""
    levels = [
        f"{label} {_price(value)}"
        for label, value in (("stop-loss", order.stop_loss), ("take-profit", order.take_profit))
        if value is not None
    ]
    return ", ".join(levels)


def _order(order: FinalDecision | TradeProposal) -> str:
    """'buy 6.15% of equity at ~2,477.90' (sells: of the position; no entry: no price)."""
    size = "of equity" if order.action == "buy" else "of the position"
    at = f" at ~{_price(order.entry)}" if order.entry is not None else ""
    return f"{order.action} {order.size_pct:.2f}% {size}{at}"


def decision_line(d: FinalDecision, proposal: TradeProposal | None = None) -> str:
    """One paragraph: what was decided; for a blocked trade, what the trader wanted."""
    if d.action == "hold":
        return "**Decision: HOLD** — no order."
    if not d.approved:
        wanted = proposal if proposal is not None and proposal.action == d.action else None
        if wanted is None:
            return (
                f"**Decision: no trade.** The desk wanted to {d.action}; "
                "the risk checks blocked it."
            )
        levels = _levels(wanted)
        return (
            f"**Decision: no trade.** The trader wanted to {_order(wanted)}"
            f"{f' ({levels})' if levels else ''}; the risk checks blocked it."
        )
    levels = _levels(d)
    head, _, rest = _order(d).partition(" ")
    return f"**Decision: {head.upper()} {rest}**" + (f" — {levels}." if levels else ".")


def _checks(d: FinalDecision) -> str:
    """Why the code risk checks blocked, cut or passed the order (a list; empty for a plain
    hold)."""
    if not d.reasons or (d.action == "hold" and d.approved):
        return ""
    if not d.approved:
        head = "Why it was blocked:"
    elif d.clamped:
        head = "Risk clamps (the code changed what the models asked for):"
    else:
        head = "Risk checks:"
    return _bullets(list(d.reasons), head)


def _thesis(t: ResearchThesis) -> str:
    head = f"{t.direction}, conviction {t.conviction:.2f}"
    summary = t.summary.strip()
    if summary.startswith(t.direction) and f"{t.conviction:.2f}" in summary:
        head, summary = summary, ""  # the summary already says both
    text = f"{head}. {summary}" if summary else head
    return text if text.endswith((".", "!", "?")) else f"{text}."


def execution_line(ex: ExecutionResult | None) -> str:
    if ex is None:
        return "**Execution:** nothing was sent to the portfolio."
    if ex.status == "filled":
        fee = f"fee {ex.fee:g}, " if ex.fee is not None else ""
        price = f" at {_price(ex.price)}" if ex.price is not None else ""
        detail = f" {ex.detail[0].upper()}{ex.detail[1:]}." if ex.detail else ""
        return (
            f"**Execution: filled** {ex.side} {ex.quantity:g}{price} "
            f"({fee}trade #{ex.trade_id}, portfolio {ex.portfolio_id}).{detail}"
        )
    detail = f" — {ex.detail}" if ex.detail else ""
    return f"**Execution:** {ex.status.replace('_', ' ')}{detail}."


def _warnings(turn: TurnRecord) -> str:
    return _bullets([f"⚠ {w}" for w in turn.warnings], "**Data warnings:**")


def final_answer(turn: TurnRecord) -> str:
    """The assistant message that ends an analysis turn."""
    snap = turn.snapshot
    where = (
        f"{snap.source} candles, decision bar opened {snap.as_of:%Y-%m-%d %H:%M} UTC, "
        f"close {_price(snap.close)}."
        if snap is not None
        else "no snapshot."
    )
    d = turn.decision
    return _block(
        f"**{turn.symbol} {turn.interval}** — {where}",
        "**Decision: none** — the desk did not reach one."
        if d is None
        else decision_line(d, turn.proposal),
        _checks(d) if d is not None else "",
        f"**Thesis:** {_thesis(turn.thesis)}" if turn.thesis is not None else "",
        execution_line(turn.execution),
        _warnings(turn),
        "Ask *why?*, *why not buy?* or *what would change your mind?*",
    )


def _reports(turn: TurnRecord) -> str:
    out = []
    for name in ANALYSTS:
        r = turn.reports.get(name)
        if r is None:
            continue
        point = f" {r.summary}" if r.summary else ""
        out.append(
            f"**{name}**: {r.signal} (score {r.score:+.2f}, confidence {r.confidence:.2f}).{point}"
        )
    return _bullets(out, "The analysts:")


def _why(turn: TurnRecord) -> list[str]:
    d = turn.decision
    parts = [f"About the last decision on {data_line(turn)}:"]
    if d is not None:
        parts.append(decision_line(d, turn.proposal))
    parts.append(_reports(turn))
    if turn.thesis is not None:
        parts.append(f"**Researcher:** {_thesis(turn.thesis)}")
    if turn.proposal is not None and turn.proposal.rationale:
        parts.append(f"**Trader:** {turn.proposal.rationale}")
    if turn.review is not None:
        r = turn.review
        reasons = "; ".join(r.reasons) if r.reasons else "no reasons given"
        parts.append(f"**Risk manager:** {r.verdict} ({reasons}).")
    if d is not None and d.reasons:
        parts.append(_bullets(list(d.reasons), "Code risk checks:"))
    parts.append(_warnings(turn))
    return parts


def _why_not(turn: TurnRecord, action: str) -> list[str]:
    d = turn.decision
    parts = [f"About {data_line(turn)}:"]
    if d is not None and d.action == action:
        parts.append(
            f"The desk did decide to {action}."
            if d.approved
            else f"The trader did want to {action}, but the risk checks blocked it."
        )
    elif turn.thesis is not None:
        t = turn.thesis
        parts.append(
            f"The desk decided {d.action if d else 'nothing'}, not {action}: the thesis was "
            f"{t.direction} with conviction {t.conviction:.2f}."
        )
    parts.append(_reports(turn))
    if turn.review is not None and turn.review.reasons:
        parts.append("**Risk manager:** " + "; ".join(turn.review.reasons) + ".")
    if d is not None and d.reasons:
        parts.append(_bullets(list(d.reasons), "Code risk checks:"))
    parts.append(_warnings(turn))
    return parts


def _change_mind(turn: TurnRecord) -> list[str]:
    items = []
    for name in ANALYSTS:
        r = turn.reports.get(name)
        if r is None:
            continue
        other = "bearish" if r.signal == "bullish" else "bullish"
        items.append(
            f"**{name}** turning {other if r.signal != 'neutral' else 'bullish or bearish'} "
            f"(now {r.signal}, score {r.score:+.2f}, confidence {r.confidence:.2f})."
        )
    parts = [_bullets(items, f"What would change the decision on {data_line(turn)}:")]
    if turn.thesis is not None and turn.thesis.key_risks:
        parts.append(_bullets(list(turn.thesis.key_risks), "Key risks named by the researcher:"))
    if turn.warnings:
        parts.append(_bullets(list(turn.warnings), "Fresher or real data:"))
    parts.append(f"Ask again with fresh data: e.g. *analyze {turn.symbol} {turn.interval}*.")
    return parts


def _stops(turn: TurnRecord) -> list[str]:
    d = turn.decision
    if d is None or d.action == "hold":
        return [
            f"The last decision on {data_line(turn)} was to hold: no stop or target.",
            _warnings(turn),
        ]
    whose = "The order's" if d.approved or turn.proposal is None else "The trader's"
    levels = _levels(d if d.approved or turn.proposal is None else turn.proposal)
    return [
        decision_line(d, turn.proposal),
        f"{whose} levels: {levels}." if levels else f"{whose} order had no stop-loss or target.",
        _bullets(list(d.reasons), "Code risk checks:") if d.reasons else "",
        _warnings(turn),
    ]


_WHY_NOT = re.compile(r"\bwhy\s+not\s+(buy|sell|hold)", re.IGNORECASE)
_CHANGE = re.compile(r"change your mind|would change|what would make|what could change", re.I)
_LEVELS = re.compile(r"\b(stop|target|take[- ]profit)\b", re.IGNORECASE)


def answer_question(question: str, last: TurnRecord | None, example: str) -> str:
    """A follow-up answered from the thread's last completed turn (deterministic)."""
    if last is None:
        return f"There is no decision in this thread yet to explain; {example}."
    if (match := _WHY_NOT.search(question)) is not None:
        parts = _why_not(last, match.group(1).lower())
    elif _CHANGE.search(question):
        parts = _change_mind(last)
    elif _LEVELS.search(question):
        parts = _stops(last)
    else:
        parts = _why(last)
    return _block(*parts)
