"""The desk's chat answers as chat clients render them (Markdown): paragraphs and lists that
survive rendering, a blocked trade said plainly (what the trader wanted, why it was blocked, no
"none" for absent values), and the stale-data warning in every answer on old candles — also when
a portfolio's looser data-age limit accepts them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from graph_fakes import NOW, desk_context, snapshot
from langgraph.checkpoint.memory import InMemorySaver
from test_chat import PerPairMarket

from core.risk import RiskLimits
from graph.chat_answers import answer_question, final_answer
from graph.chat_models import TurnRecord
from graph.graph import compile_desk
from graph.prepare import FRESH_BARS, stale_data_warning
from graph.schemas import ExecutionResult, FinalDecision, ResearchThesis, TradeProposal

WANTED = TradeProposal(action="buy", size_pct=6.15, entry=2477.9, stop_loss=2368.33)
BLOCKED = FinalDecision(
    action="buy",
    size_pct=0,
    approved=False,
    clamped=True,
    reasons=["stale data: the latest bar opened 2024-01-10 16:00 UTC, more than 2 × 4h before now"],
)
STALE = "stale data: the latest store ETHUSDT 4h bar opened 2024-01-10 16:00 UTC, ..."


def _turn(**kw: Any) -> TurnRecord:
    base: dict[str, Any] = {
        "symbol": "ETHUSDT",
        "interval": "4h",
        "snapshot": snapshot(symbol="ETHUSDT", interval="4h", close=2477.9),
        "thesis": ResearchThesis(direction="bullish", conviction=0.62, summary="trend up"),
        "proposal": WANTED,
        "decision": BLOCKED,
        "execution": ExecutionResult(status="skipped", detail="nothing approved to trade"),
        "warnings": [STALE, "resampled data: the 4h candles were built from shorter stored bars."],
    }
    return TurnRecord(**{**base, **kw})


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def test_the_answer_is_markdown_paragraphs_and_lists() -> None:
    text = final_answer(_turn())
    # A single line break inside a paragraph would be joined by the client: only list items
    # (after a blank line) may share a paragraph.
    for block in _paragraphs(text):
        lines = block.split("\n")
        assert len(lines) == 1 or all(line.startswith("- ") for line in lines), block
    items = [p for p in _paragraphs(text) if p.startswith("- ")]
    assert any(STALE in p for p in items) and any("resampled data" in p for p in items)
    assert _paragraphs(text)[0].startswith("**ETHUSDT 4h** — ")
    assert "**Thesis:** bullish, conviction 0.62. trend up" in text


def test_a_blocked_trade_says_what_the_trader_wanted_and_why_without_none() -> None:
    text = final_answer(_turn())
    assert (
        "**Decision: no trade.** The trader wanted to buy 6.15% of equity at ~2,477.90 "
        "(stop-loss 2,368.33); the risk checks blocked it." in text
    )
    assert "Why it was blocked:\n\n- stale data: the latest bar opened" in text
    assert "none" not in text.lower() and "0.00%" not in text
    for question in ("why?", "why not buy?", "where is the stop?", "what would change your mind?"):
        reply = answer_question(question, _turn(), "say e.g. ...")
        assert "none" not in reply.lower() and STALE in reply, question


def test_an_approved_trade_lists_its_levels_and_its_fill() -> None:
    buy = FinalDecision(
        action="buy", size_pct=6.15, entry=2477.9, take_profit=2642.26, approved=True
    )
    filled = ExecutionResult(
        status="filled",
        detail="a human cut the size to 3% (the desk approved 6.15%)",
        side="buy",
        quantity=0.12,
        price=2479.14,
        fee=0.3,
        trade_id=1,
        portfolio_id=1,
    )
    text = final_answer(_turn(decision=buy, execution=filled, warnings=[]))
    assert "**Decision: BUY 6.15% of equity at ~2,477.90** — take-profit 2,642.26." in text
    assert "stop-loss" not in text and "Data warnings" not in text
    assert (
        "**Execution: filled** buy 0.12 at 2,479.14 (fee 0.3, trade #1, portfolio 1). "
        "A human cut the size to 3% (the desk approved 6.15%)." in text
    )


def test_stale_data_is_warned_also_when_a_looser_limit_accepts_it() -> None:
    snap = snapshot(symbol="ETHUSDT", interval="4h")
    old = NOW + timedelta(hours=4 * FRESH_BARS + 1)
    assert stale_data_warning(snap, RiskLimits(), NOW + timedelta(hours=4)) is None  # fresh
    strict = stale_data_warning(snap, RiskLimits(), old)
    assert strict is not None and "the desk will not trade on it" in strict
    loose = stale_data_warning(snap, RiskLimits(max_data_age_bars=1_000_000), old)
    assert loose is not None and loose.startswith("stale data: the latest")
    assert "(1,000,000 bars) accepts it, so the desk decides on old prices" in loose


@pytest.mark.parametrize("days", [0, 30])
async def test_every_answer_on_old_candles_says_so_whatever_the_limit_accepts(days: int) -> None:
    ctx = desk_context(
        market_data=PerPairMarket(),
        stream_tokens=False,
        now=NOW + timedelta(days=days),
        risk_limits=RiskLimits(max_data_age_bars=1_000_000),  # a portfolio's loose limit
    )
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": f"stale-{days}"}}
    out = await app.ainvoke(
        {"messages": [{"role": "user", "content": "analyze BTCUSDT 1h"}]}, config, context=ctx
    )
    answer = out["messages"][-1].content
    why = await app.ainvoke(
        {"messages": [{"role": "user", "content": "why?"}]}, config, context=ctx
    )
    assert out["decision"].approved  # the loose limit lets the desk decide on these candles
    if days:
        assert "stale data" in answer and "accepts it" in answer
        assert "stale data" in why["messages"][-1].content
    else:
        assert "stale data" not in answer
