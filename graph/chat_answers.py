"""Desk out: the turn's final answer (decision, size, stop/target, the risk clamps, what was
executed, every data warning) and the answers to follow-up questions, written from a
`TurnRecord` only — the thread's last decision and the reports it was built from."""

from __future__ import annotations

import re

from graph.chat_models import TurnRecord
from graph.schemas import ExecutionResult, FinalDecision

ANALYSTS = ("technical", "sentiment", "tokenomics")


def _price(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:,.2f}" if value >= 1 else f"{value:.6g}"


def data_line(turn: TurnRecord) -> str:
    snap = turn.snapshot
    if snap is None:
        return f"{turn.symbol} {turn.interval}: no snapshot"
    return (
        f"{turn.symbol} {turn.interval}, {snap.source} candles, decision bar opened "
        f"{snap.as_of:%Y-%m-%d %H:%M} UTC, close {_price(snap.close)}"
    )


def decision_line(d: FinalDecision) -> str:
    if d.action == "hold":
        return "Decision: HOLD (no order)."
    size = (
        f"{d.size_pct:.2f}% of equity"
        if d.action == "buy"
        else f"{d.size_pct:.2f}% of the position"
    )
    state = "" if d.approved else " — blocked by the risk rules"
    return f"Decision: {d.action.upper()} {size} at ~{_price(d.entry)}{state}."


def execution_line(ex: ExecutionResult | None) -> str:
    if ex is None:
        return "Execution: none."
    if ex.status == "filled":
        return (
            f"Execution: filled {ex.side} {ex.quantity:g} at {_price(ex.price)} "
            f"(fee {ex.fee:g}, trade #{ex.trade_id}, portfolio {ex.portfolio_id})."
        )
    return f"Execution: {ex.status.replace('_', ' ')} — {ex.detail}."


def final_answer(turn: TurnRecord) -> str:
    """The assistant message that ends an analysis turn."""
    lines = [f"**{turn.symbol} {turn.interval}** — {data_line(turn)}."]
    d = turn.decision
    if d is None:
        lines.append("Decision: none (the desk did not reach one).")
    else:
        lines.append(decision_line(d))
        if d.action != "hold":
            lines.append(f"Stop-loss {_price(d.stop_loss)} · take-profit {_price(d.take_profit)}.")
        if d.reasons and (d.action != "hold" or not d.approved):
            label = "Risk clamps" if d.clamped or not d.approved else "Risk checks"
            lines.append(f"{label}: " + "; ".join(d.reasons) + ".")
    if turn.thesis is not None:
        t = turn.thesis
        lines.append(f"Thesis: {t.direction}, conviction {t.conviction:.2f}. {t.summary}".strip())
    lines.append(execution_line(turn.execution))
    for warning in turn.warnings:
        lines.append(f"⚠ {warning}")
    lines.append("Ask 'why?', 'why not buy?' or 'what would change your mind?'.")
    return "\n".join(lines)


def _reports(turn: TurnRecord) -> list[str]:
    out = []
    for name in ANALYSTS:
        r = turn.reports.get(name)
        if r is None:
            continue
        point = f" {r.summary}" if r.summary else ""
        out.append(
            f"- {name}: {r.signal} (score {r.score:+.2f}, confidence {r.confidence:.2f}).{point}"
        )
    return out


def _why(turn: TurnRecord) -> list[str]:
    lines = [f"About the last decision on {data_line(turn)}:"]
    if turn.decision is not None:
        lines.append(decision_line(turn.decision))
    lines.extend(_reports(turn))
    if turn.thesis is not None:
        t = turn.thesis
        lines.append(f"The researcher read that as {t.direction} (conviction {t.conviction:.2f}).")
        if t.summary:
            lines.append(t.summary)
    if turn.proposal is not None and turn.proposal.rationale:
        lines.append(f"Trader: {turn.proposal.rationale}")
    if turn.review is not None:
        r = turn.review
        reasons = "; ".join(r.reasons) if r.reasons else "no reasons given"
        lines.append(f"Risk manager: {r.verdict} ({reasons}).")
    if turn.decision is not None and turn.decision.reasons:
        lines.append("Code risk checks: " + "; ".join(turn.decision.reasons) + ".")
    lines.extend(f"⚠ {w}" for w in turn.warnings)
    return lines


def _why_not(turn: TurnRecord, action: str) -> list[str]:
    d = turn.decision
    lines = [f"About {data_line(turn)}:"]
    if d is not None and d.action == action:
        lines.append(
            f"The desk did decide to {action}."
            + ("" if d.approved else " The risk rules blocked it.")
        )
    elif turn.thesis is not None:
        t = turn.thesis
        lines.append(
            f"The desk decided {d.action if d else 'nothing'}, not {action}: the thesis was "
            f"{t.direction} with conviction {t.conviction:.2f}."
        )
    lines.extend(_reports(turn))
    if turn.review is not None and turn.review.reasons:
        lines.append("Risk manager: " + "; ".join(turn.review.reasons) + ".")
    if d is not None and d.reasons:
        lines.append("Code risk checks: " + "; ".join(d.reasons) + ".")
    lines.extend(f"⚠ {w}" for w in turn.warnings)
    return lines


def _change_mind(turn: TurnRecord) -> list[str]:
    lines = [f"What would change the decision on {data_line(turn)}:"]
    for name in ANALYSTS:
        r = turn.reports.get(name)
        if r is None:
            continue
        other = "bearish" if r.signal == "bullish" else "bullish"
        lines.append(
            f"- {name} turning {other if r.signal != 'neutral' else 'bullish or bearish'} "
            f"(now {r.signal}, score {r.score:+.2f}, confidence {r.confidence:.2f})."
        )
    if turn.thesis is not None and turn.thesis.key_risks:
        lines.append("Key risks named by the researcher: " + "; ".join(turn.thesis.key_risks) + ".")
    if turn.warnings:
        lines.append("Fresher or real data: " + " ".join(turn.warnings))
    lines.append("Ask again with fresh data: e.g. 'analyze " + f"{turn.symbol} {turn.interval}'.")
    return lines


def _levels(turn: TurnRecord) -> list[str]:
    d = turn.decision
    if d is None or d.action == "hold":
        return [f"The last decision on {data_line(turn)} was to hold: no stop or target."]
    return [
        f"{decision_line(d)}",
        f"Stop-loss {_price(d.stop_loss)}, take-profit {_price(d.take_profit)}.",
        *(["Code risk checks: " + "; ".join(d.reasons) + "."] if d.reasons else []),
    ]


_WHY_NOT = re.compile(r"\bwhy\s+not\s+(buy|sell|hold)", re.IGNORECASE)
_CHANGE = re.compile(r"change your mind|would change|what would make|what could change", re.I)
_LEVELS = re.compile(r"\b(stop|target|take[- ]profit)\b", re.IGNORECASE)


def answer_question(question: str, last: TurnRecord | None, example: str) -> str:
    """A follow-up answered from the thread's last completed turn (deterministic)."""
    if last is None:
        return f"There is no decision in this thread yet to explain; {example}."
    if (match := _WHY_NOT.search(question)) is not None:
        lines = _why_not(last, match.group(1).lower())
    elif _CHANGE.search(question):
        lines = _change_mind(last)
    elif _LEVELS.search(question):
        lines = _levels(last)
    else:
        lines = _why(last)
    return "\n".join(lines)
