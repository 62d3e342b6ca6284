"""Human approval before an order, in process: the interrupt is LangChain 1.0's `HITLRequest`
(what Agent Chat UI draws Approve / Edit / Reject for), answered with a `HITLResponse`; the
older `HumanResponse` list and the firm's API answer still work; an edit can only shrink
`size_pct`, and an answer that cannot be honoured pauses the run again, saying why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from graph_fakes import desk_context, fake_settings
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import TypeAdapter
from sqlalchemy import select
from test_chat import PerPairMarket

from graph.approval import ApprovalAnswerError, approval_request, read_approval
from graph.graph import compile_desk
from graph.schemas import FinalDecision
from persistence.db import make_engine, session_scope, upgrade
from persistence.models import Trade
from persistence.portfolios import create_portfolio

BUY = FinalDecision(
    action="buy",
    size_pct=6.15,
    entry=2477.9,
    stop_loss=2368.32776624,
    take_profit=2642.25835065,
    approved=True,
    reasons=["risk manager: within desk guidelines"],
)
# What Agent Chat UI sends for an edit: every arg back, the edited ones as text.
UI_EDIT = {
    "symbol": "ETHUSDT",
    "side": "buy",
    "entry": 2477.9,
    "stop_loss": 2368.33,
    "take_profit": 2642.26,
}


def test_the_interrupt_is_langchains_hitl_request() -> None:
    from langchain.agents.middleware.human_in_the_loop import (
        ActionRequest,
        HITLRequest,
        ReviewConfig,
    )

    request = approval_request(BUY, "ETHUSDT")
    # LangChain's own TypedDicts, checked at run time, with no key they do not declare.
    TypeAdapter(HITLRequest).validate_python(request, strict=True)
    assert set(request) == set(HITLRequest.__annotations__)
    assert set(request["action_requests"][0]) == set(ActionRequest.__annotations__)
    assert set(request["review_configs"][0]) <= set(ReviewConfig.__annotations__)
    (action,) = request["action_requests"]
    assert action["name"] == "execute_order"
    assert action["args"] == {"size_pct": 6.15, **UI_EDIT}
    assert "BUY ETHUSDT" in action.get("description", "")
    assert request["review_configs"] == [
        {"action_name": "execute_order", "allowed_decisions": ["approve", "edit", "reject"]}
    ]
    sell = FinalDecision(action="sell", size_pct=50, entry=10.0, approved=True)
    args = approval_request(sell, "SOLUSDT")["action_requests"][0]["args"]
    assert args == {"symbol": "SOLUSDT", "side": "sell", "size_pct": 50, "entry": 10.0}
    text = approval_request(sell, "SOLUSDT", refused="edit: no")["action_requests"][0]
    assert "none" not in text.get("description", "").lower()
    assert text.get("description", "").startswith("**Your last answer was not applied:** edit: no")


def _edit(args: dict[str, Any], name: str = "execute_order") -> dict[str, Any]:
    return {"decisions": [{"type": "edit", "edited_action": {"name": name, "args": args}}]}


OLD_EDIT = [{"type": "edit", "args": {"action": "execute_order", "args": {"size_pct": 1.0}}}]


@pytest.mark.parametrize(
    ("answer", "size", "note"),
    [
        ({"decisions": [{"type": "approve"}]}, 6.15, "approved"),
        ({"type": "approve"}, 6.15, "approved"),
        ({"decisions": [{"type": "reject", "message": "too big"}]}, None, "a human: too big"),
        (_edit({**UI_EDIT, "size_pct": "3"}), 3.0, "cut the size to 3% (the desk approved 6.15%)"),
        ([{"type": "accept", "args": None}], 6.15, "approved"),
        ([{"type": "ignore", "args": None}], None, "ignored"),
        (OLD_EDIT, 1.0, "cut the size to 1%"),
        ({"approved": True, "note": "ok"}, 6.15, "ok"),
        ({"approved": False, "note": ""}, None, "rejected by a human"),
    ],
)
def test_every_answer_format_is_read(answer: Any, size: float | None, note: str) -> None:
    decision, said = read_approval(answer, BUY, "ETHUSDT")
    assert (decision.size_pct if decision else None) == size and note in said
    if size is not None and size < BUY.size_pct:
        assert decision is not None and "size edited to" in decision.reasons[-1]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (_edit({**UI_EDIT, "size_pct": "7"}), "at most the approved 6.15"),
        (_edit({**UI_EDIT, "size_pct": 0}), "at most the approved"),
        (_edit({**UI_EDIT, "size_pct": "lots"}), "not a number"),
        (_edit({**UI_EDIT, "size_pct": 3, "symbol": "BTCUSDT"}), "not symbol"),
        (_edit({**UI_EDIT, "size_pct": 3, "stop_loss": "1000"}), "not stop_loss"),
        (_edit({"size_pct": 3}, name="sell_everything"), "not 'sell_everything'"),
        ({"decisions": [{"type": "respond", "message": "hi"}]}, "'respond' is not allowed"),
        ({"decisions": [{"type": "approve"}, {"type": "approve"}]}, "exactly one"),
        ({"decisions": []}, "exactly one"),
        ("yes", "expected"),
    ],
)
def test_an_answer_that_cannot_be_honoured_is_refused_with_the_reason(
    answer: Any, says: str
) -> None:
    with pytest.raises(ApprovalAnswerError, match=says):
        read_approval(answer, BUY, "ETHUSDT")


@pytest.fixture
def paper(tmp_path: Any) -> Any:
    settings = fake_settings(tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    pid = create_portfolio(engine, "chat", Decimal(10_000), require_approval=True).id
    yield settings, engine, pid
    engine.dispose()


def _trades(engine: Any) -> list[tuple[str, str, Decimal]]:
    with session_scope(engine) as s:
        rows = s.scalars(select(Trade)).all()
        return [(t.side, t.client_order_id, t.quantity * t.price) for t in rows]


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def _paused(app: Any, config: Any, ctx: Any) -> dict[str, Any]:
    state = await app.aget_state(config)
    assert state.next == ("execute",)
    (interrupt,) = state.interrupts
    value: dict[str, Any] = interrupt.value
    return value


@pytest.mark.parametrize(
    ("answer", "filled"),
    [
        ({"decisions": [{"type": "approve"}]}, True),
        ({"decisions": [{"type": "reject", "message": "not today"}]}, False),
        ([{"type": "accept", "args": None}], True),  # the older HumanResponse list
        ([{"type": "ignore", "args": None}], False),
        ({"approved": True, "note": "ok"}, True),  # the firm's API answer
    ],
)
async def test_approval_interrupts_then_fills_once_or_nothing(
    paper: Any, answer: Any, filled: bool
) -> None:
    settings, engine, pid = paper
    ctx = desk_context(settings=settings, market_data=PerPairMarket(), stream_tokens=False)
    ctx.portfolio_id = pid  # named, not injected: bound from the database by `prepare`
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat-appr"}}
    await app.ainvoke(_user("analyze and trade BTCUSDT 1h"), config, context=ctx)
    request = await _paused(app, config, ctx)
    (action,) = request["action_requests"]
    assert (action["name"], action["args"]["symbol"], action["args"]["side"]) == (
        "execute_order",
        "BTCUSDT",
        "buy",
    )
    assert _trades(engine) == []

    out = await app.ainvoke(Command(resume=answer), config, context=ctx)
    trades = _trades(engine)
    answer_text = out["messages"][-1].content
    if filled:
        assert len(trades) == 1 and trades[0][0] == "buy"
        assert out["execution"].status == "filled" and "Execution: filled" in answer_text
    else:
        assert trades == [] and out["execution"].status == "rejected_by_human"
        assert "by a human" in answer_text
    # The next trade turn on the thread is a new order (a new idempotency key), not a replay.
    await app.ainvoke(_user("analyze and trade BTCUSDT 1h"), config, context=ctx)
    await app.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config, context=ctx)
    assert len(_trades(engine)) == len(trades) + 1


async def test_a_larger_edit_is_refused_and_asked_again_then_a_smaller_one_fills(
    paper: Any,
) -> None:
    settings, engine, pid = paper
    ctx = desk_context(settings=settings, market_data=PerPairMarket(), stream_tokens=False)
    ctx.portfolio_id = pid
    app = compile_desk(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat-edit"}}
    await app.ainvoke(_user("analyze and trade BTCUSDT 1h"), config, context=ctx)
    args = (await _paused(app, config, ctx))["action_requests"][0]["args"]
    size = args["size_pct"]

    larger = _edit({**args, "size_pct": str(size * 2)})
    await app.ainvoke(Command(resume=larger), config, context=ctx)
    again = (await _paused(app, config, ctx))["action_requests"][0]
    assert "not applied" in again.get("description", "") and "at most the approved" in (
        again.get("description", "")
    )
    assert _trades(engine) == []  # refused: nothing traded, still waiting

    out = await app.ainvoke(
        Command(resume=_edit({**args, "size_pct": str(size / 2)})), config, context=ctx
    )
    trades = _trades(engine)
    assert out["execution"].status == "filled" and len(trades) == 1
    # The order was half the decision's size (the ledger's own limits do not bind at 10,000).
    notional = float(trades[0][2])
    assert notional == pytest.approx(10_000 * size / 2 / 100, rel=0.01)
    assert out["decision"].size_pct == size  # the turn's decision; the order was smaller
    assert f"A human cut the size to {size / 2:g}%" in out["messages"][-1].content
    state = await app.aget_state(config)
    assert not state.next and not state.interrupts
