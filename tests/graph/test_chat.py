"""The desk as a chat agent, in process: a user turn is a request or a question, every turn
starts from fresh facts on the same thread, follow-ups are answered from the last decision, a
failed turn does not poison the next (approval: test_approval.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from graph_fakes import NOW, desk_context, snapshot
from langgraph.checkpoint.memory import InMemorySaver

from graph.chat import parse_request
from graph.chat_models import TurnRecord
from graph.graph import compile_desk
from tools.snapshot import IndicatorSnapshot


@pytest.mark.parametrize(
    ("text", "kind", "symbol", "interval", "execute"),
    [
        ("analyze ETHUSDT 4h", "analyze", "ETHUSDT", "4h", False),
        ("Analyse eth/usdt on the 15m chart", "analyze", "ETHUSDT", "15m", False),
        ("and BTCUSDT 1h?", "analyze", "BTCUSDT", "1h", False),
        ("what about SOL daily", "analyze", "SOLUSDT", "1d", False),
        ("analyze and trade BTCUSDT 1h", "analyze", "BTCUSDT", "1h", True),
        ("analyze BTCUSDT 1h but don't trade", "analyze", "BTCUSDT", "1h", False),
        ("why?", "question", None, None, False),
        ("why not buy?", "question", None, None, False),
        ("What would change your mind?", "question", None, None, False),
        ("hello there", "unclear", None, None, False),
    ],
)
def test_the_parser_reads_requests_and_questions(
    text: str, kind: str, symbol: str | None, interval: str | None, execute: bool
) -> None:
    request, error = parse_request(text)
    assert (request.kind, request.symbol, request.interval, request.execute) == (
        kind,
        symbol,
        interval,
        execute,
    )
    assert error is None


def test_the_parser_fills_gaps_from_the_last_turn_and_names_bad_input() -> None:
    last = TurnRecord(symbol="ETHUSDT", interval="4h")
    assert parse_request("and 1d?", last)[0].symbol == "ETHUSDT"
    assert parse_request("analyze it again", last)[0].interval == "4h"
    assert parse_request("and BTCUSDT?", last)[0].interval == "1h"  # other pair: default
    request, error = parse_request("analyze ETHUSDT 7h")
    assert request.kind == "unclear" and error is not None and "7h" in error
    request, error = parse_request("analyze BTCUSDT 1h as of 2023-06-01 12:00")
    assert request.as_of == datetime(2023, 6, 1, 12, tzinfo=UTC) and error is None
    assert parse_request("analyze 4h")[1] == "which pair? name a symbol"


class PerPairMarket:
    """Hands out a new snapshot per load (its close counts the loads), per requested pair;
    `fail` names symbols whose load raises."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.loads: list[tuple[str, str]] = []
        self.fail = fail

    def snapshot(self, symbol: str, interval: str) -> IndicatorSnapshot:
        if symbol in self.fail:
            raise ValueError(f"no candles for {symbol}")
        self.loads.append((symbol, interval))
        return snapshot(symbol=symbol, interval=interval, close=100.0 + len(self.loads))


def one_turn(calls: list[Any]) -> bool:
    """This turn's call records only: each agent at most once (an analyst without inputs makes
    no call), the decision chain once."""
    agents = [c.agent if hasattr(c, "agent") else c["agent"] for c in calls]
    return len(agents) == len(set(agents)) and {"researcher", "trader", "risk_manager"} <= set(
        agents
    )


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_a_thread_is_a_conversation_with_fresh_facts_every_turn() -> None:
    market = PerPairMarket()
    ctx = desk_context(market_data=market, stream_tokens=False)
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat-1"}}

    first = await app.ainvoke(_user("analyze ETHUSDT 4h"), config, context=ctx)
    assert first["snapshot"].symbol == "ETHUSDT" and first["snapshot"].interval == "4h"
    assert one_turn(first["calls"])
    answer = first["messages"][-1]
    assert answer.name == "desk" and "ETHUSDT 4h" in answer.content
    assert "Decision:" in answer.content and "Execution:" in answer.content

    second = await app.ainvoke(_user("and BTCUSDT 1h?"), config, context=ctx)
    assert (second["snapshot"].symbol, second["snapshot"].interval) == ("BTCUSDT", "1h")
    assert second["snapshot"].close == 102.0  # loaded for this turn, not the last one's
    assert one_turn(second["calls"])  # call records do not pile up across turns
    assert {r.source for r in second["reports"].values()} and "BTCUSDT 1h" in (
        second["messages"][-1].content
    )
    assert market.loads == [("ETHUSDT", "4h"), ("BTCUSDT", "1h")]

    why = await app.ainvoke(_user("why?"), config, context=ctx)
    reply = why["messages"][-1]
    assert reply.name == "desk" and "BTCUSDT 1h" in reply.content
    decision = second["decision"]
    assert decision.action in reply.content.lower()
    assert "**technical**:" in reply.content and "Researcher" in reply.content
    assert market.loads == [("ETHUSDT", "4h"), ("BTCUSDT", "1h")]  # a question runs no desk
    humans = [m for m in why["messages"] if m.type == "human"]
    assert [m.content for m in humans] == ["analyze ETHUSDT 4h", "and BTCUSDT 1h?", "why?"]

    unclear = await app.ainvoke(_user("hello there"), config, context=ctx)
    assert "analyze ETHUSDT 4h" in unclear["messages"][-1].content


async def test_a_failed_turn_does_not_poison_the_next() -> None:
    market = PerPairMarket(fail=frozenset({"DOGEUSDT"}))
    ctx = desk_context(market_data=market, stream_tokens=False)
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat-2"}}
    await app.ainvoke(_user("analyze ETHUSDT 4h"), config, context=ctx)
    with pytest.raises(ValueError, match="no candles for DOGEUSDT"):
        await app.ainvoke(_user("analyze DOGEUSDT 1h"), config, context=ctx)
    after = await app.ainvoke(_user("analyze BTCUSDT 1h"), config, context=ctx)
    assert (after["snapshot"].symbol, after["snapshot"].interval) == ("BTCUSDT", "1h")
    assert one_turn(after["calls"]) and after["decision"] is not None
    # Structured input on the same thread still works and keeps the caller's snapshot.
    given = snapshot(symbol="SOLUSDT", interval="1h", close=7.0)
    structured = await app.ainvoke(
        {"symbol": "SOLUSDT", "interval": "1h", "snapshot": given}, config, context=ctx
    )
    assert structured["snapshot"].close == 7.0 and one_turn(structured["calls"])
    assert "SOLUSDT 1h" in structured["messages"][-1].content


async def test_without_a_portfolio_a_trade_request_says_why_nothing_traded() -> None:
    ctx = desk_context(market_data=PerPairMarket(), stream_tokens=False, now=NOW)
    app = compile_desk(InMemorySaver())
    out = await app.ainvoke(
        _user("analyze and trade BTCUSDT 1h"),
        {"configurable": {"thread_id": "chat-3"}},
        context=ctx,
    )
    assert out["execution"].status == "skipped"
    assert "portfolio_id" in out["messages"][-1].content


async def test_a_real_model_extracts_the_request_and_the_parser_is_its_fallback() -> None:
    from graph_fakes import FakeModelClient, json_reply, rules_text_reply

    from graph.models import Prompt

    def script(agent: str, prompt: Prompt, attempt: int) -> str:
        if agent != "intake":
            return rules_text_reply(agent, prompt)
        if "solana" in prompt.user:
            payload = {"kind": "analyze", "symbol": "SOLUSDT", "interval": "1d"}
            return json_reply("The user wants Solana on the daily chart.", payload)
        return "no idea"  # never valid: repaired once, then the parser's reading

    client = FakeModelClient(script=script)
    market = PerPairMarket()
    ctx = desk_context(client, market_data=market, stream_tokens=False)
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat-llm"}}
    out = await app.ainvoke(_user("have a look at solana on the daily"), config, context=ctx)
    assert market.loads == [("SOLUSDT", "1d")]
    assert "SOLUSDT 1d" in out["messages"][-1].content
    out = await app.ainvoke(_user("analyze ETHUSDT 4h"), config, context=ctx)
    assert market.loads[-1] == ("ETHUSDT", "4h") and client.attempts("intake") == 3


class BrokenExecutor:
    def execute(self, order: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broker down")


async def test_a_fresh_structured_run_skips_intake_and_a_failed_one_is_reset() -> None:
    """Backtests and API runs (fresh threads) go straight to `prepare`; a structured turn after
    a turn that failed past `prepare` still starts from a fresh snapshot."""
    market = PerPairMarket()
    ctx = desk_context(market_data=market, stream_tokens=False, executor=BrokenExecutor())
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat-fresh"}}
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="broker down"):
        async for update in app.astream(
            {"symbol": "BTCUSDT", "interval": "1h"}, config, context=ctx, stream_mode="updates"
        ):
            seen.extend(update)
    assert seen[0] == "prepare" and "intake" not in seen and "risk_gate" in seen
    ctx.executor = None
    out = await app.ainvoke({"symbol": "BTCUSDT", "interval": "1h"}, config, context=ctx)
    assert market.loads == [("BTCUSDT", "1h"), ("BTCUSDT", "1h")]  # reloaded, not reused
    assert out["snapshot"].close == 102.0 and one_turn(out["calls"])
