"""The desk as a chat agent behind `langgraph dev`, driven the way Studio and the LangGraph chat
clients drive it: langgraph-sdk (Python) here, @langchain/langgraph-sdk (Node) in tests/js.

The conversation server's database holds real Binance 1h candles for ETHUSDT and BTCUSDT
(2023-24, so they are stale today; 4h is resampled from them). The approval tests need a desk
that buys now, so they run against a second server on synthetic candles (DATA_SOURCE=synthetic),
which every answer must say. Offline: rules engine, no network."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from studio_server import ROOT, langgraph_dev
from test_chat import one_turn

# One server for the module: its start (and the JS test) outlast the default 300 s timeout.
pytestmark = [pytest.mark.studio, pytest.mark.slow, pytest.mark.timeout(900)]

REAL = "daisybum__cryptoTradingBot"
ANALYSTS = ("technical", "sentiment", "tokenomics")
API_ORIGIN = "http://localhost:5173"
CANDIDATES = [  # on synthetic candles
    (s, i) for i in ("4h", "1h") for s in ("BNBUSDT", "ADAUSDT", "SOLUSDT", "XRPUSDT", "LTCUSDT")
] + [(s, "4h") for s in ("DOGEUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT")]


@dataclass
class Desk:
    url: str
    database_url: str
    portfolio_id: int


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, real_data_dir: Path) -> Iterator[Desk]:
    from persistence.candles import SqlCandleStore
    from persistence.db import init_db
    from persistence.portfolios import create_portfolio
    from tools.importers import import_file

    tmp = tmp_path_factory.mktemp("studio-chat")
    url = f"sqlite:///{tmp / 'chat.db'}"
    engine = init_db(url)
    for name in ("ETH_USDT-1h", "BTC_USDT-1h"):
        import_file(SqlCandleStore(engine), real_data_dir / REAL / f"{name}.feather")
    pid = create_portfolio(engine, "studio", Decimal(10_000), require_approval=True).id
    engine.dispose()
    env = {"DATA_SOURCE": "store", "CORS_ORIGINS": API_ORIGIN}
    with langgraph_dev(tmp, database="chat.db", env=env) as base:
        yield Desk(base, url, pid)


@pytest.fixture(scope="module")
def synth_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    from persistence.db import init_db
    from persistence.portfolios import create_portfolio

    tmp = tmp_path_factory.mktemp("studio-synthetic")
    url = f"sqlite:///{tmp / 'synth.db'}"
    engine = init_db(url)
    pid = create_portfolio(
        engine, "studio", Decimal(10_000), require_approval=True, kind="synthetic"
    ).id
    engine.dispose()
    with langgraph_dev(tmp, database="synth.db", env={"DATA_SOURCE": "synthetic"}) as base:
        yield Desk(base, url, pid)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_browser_preflights_reach_the_agent_server_and_the_api(desk: Desk) -> None:
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as http:
        for origin in ("https://smith.langchain.com", "http://localhost:3000"):
            for method in ("GET", "POST", "DELETE", "PATCH"):
                r = await http.options(
                    "/threads",
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": method,
                        "Access-Control-Request-Headers": "content-type,x-api-key",
                    },
                )
                assert r.status_code == 200, (origin, method, r.text)
                assert r.headers["access-control-allow-origin"] == origin
                assert method in r.headers["access-control-allow-methods"]
        stranger = await http.options(
            "/threads",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in stranger.headers
        # The API keeps its own CORS (CORS_ORIGINS), for its own routes only.
        api = await http.options(
            "/api/portfolios",
            headers={"Origin": API_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert api.status_code == 200 and api.headers["access-control-allow-origin"] == API_ORIGIN


async def test_a_thread_is_a_conversation_with_fresh_facts(desk: Desk) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=desk.url, api_key=None)
    thread = (await client.threads.create())["thread_id"]

    first: Any = await client.runs.wait(
        thread, "cryptofirm_desk", input=_user("analyze ETHUSDT 4h")
    )
    assert (first["snapshot"]["symbol"], first["snapshot"]["interval"]) == ("ETHUSDT", "4h")
    answer = first["messages"][-1]
    assert answer["type"] == "ai" and answer["name"] == "desk"
    assert "ETHUSDT 4h" in answer["content"] and "Decision:" in answer["content"]
    assert first["snapshot"]["source"] == "store-resampled"  # 4h built from stored 1h bars
    assert "resampled data" in answer["content"] and "stale data" in answer["content"]
    assert one_turn(first["calls"])

    second: Any = await client.runs.wait(thread, "cryptofirm_desk", input=_user("and BTCUSDT 1h?"))
    snap = second["snapshot"]
    assert (snap["symbol"], snap["interval"], snap["source"]) == ("BTCUSDT", "1h", "store")
    assert snap["as_of"].startswith("2024-01-10T22:00")  # the newest stored bar
    answer = second["messages"][-1]["content"]
    assert "BTCUSDT 1h" in answer and "stale data" in answer  # 2023-24 candles: said loudly
    assert one_turn(second["calls"])  # this turn's calls only
    assert second["decision"]["approved"] is False or second["decision"]["action"] == "hold"

    why: Any = await client.runs.wait(thread, "cryptofirm_desk", input=_user("why?"))
    reply = why["messages"][-1]
    assert reply["name"] == "desk" and "BTCUSDT 1h" in reply["content"]
    assert second["decision"]["action"] in reply["content"].lower()
    humans = [m["content"] for m in why["messages"] if m["type"] == "human"]
    assert humans == ["analyze ETHUSDT 4h", "and BTCUSDT 1h?", "why?"]
    names = {m.get("name") for m in why["messages"] if m["type"] == "ai"}
    assert {"technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"} < names


async def test_messages_mode_streams_token_chunks_from_interleaved_agents(desk: Desk) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=desk.url, api_key=None)
    thread = (await client.threads.create())["thread_id"]
    chunks: list[tuple[str, str]] = []  # (node, message type), in arrival order
    async for part in client.runs.stream(
        thread, "cryptofirm_desk", input=_user("analyze BTCUSDT 1h"), stream_mode="messages-tuple"
    ):
        if part.event == "messages":
            message, metadata = part.data
            chunks.append((metadata["langgraph_node"], message["type"]))
    streamed = {node for node, kind in chunks if kind == "AIMessageChunk"}
    assert {"technical", "sentiment", "tokenomics", "researcher", "trader"} <= streamed
    analysts = [node for node, _ in chunks if node in ANALYSTS]
    switches = sum(1 for a, b in itertools.pairwise(analysts) if a != b)
    assert switches > 6, f"analysts streamed one after another: {analysts[:30]}"
    assert chunks[-1][0] == "report"  # the desk's answer ends the stream


async def test_a_failed_turn_does_not_poison_the_thread(desk: Desk) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=desk.url, api_key=None)
    thread = (await client.threads.create())["thread_id"]
    # No BTC candles stored before 2023: a replay of 2020 fails (never invents history).
    failed: Any = await client.runs.wait(
        thread,
        "cryptofirm_desk",
        input=_user("analyze BTCUSDT 1h as of 2020-01-01 12:00"),
        raise_error=False,
    )
    assert "no stored BTCUSDT 1h candles" in str(failed)
    after: Any = await client.runs.wait(
        thread, "cryptofirm_desk", input=_user("analyze BTCUSDT 1h")
    )
    assert after["snapshot"]["as_of"].startswith("2024-01-10T22:00") and one_turn(after["calls"])
    assert "BTCUSDT 1h" in after["messages"][-1]["content"]


def _buying_pair(desk: Desk) -> tuple[str, str]:
    """A pair the offline desk buys right now (synthetic candles move with the clock)."""
    import asyncio

    from core.settings import Settings
    from graph.context import DeskContext
    from graph.graph import graph

    settings = Settings(
        database_url=desk.database_url, data_source="synthetic", llm_provider="rules"
    )

    async def decide(symbol: str, interval: str) -> str:
        ctx = DeskContext(settings=settings, stream_tokens=False)
        out = await graph.ainvoke({"symbol": symbol, "interval": interval}, context=ctx)
        return str(out["decision"].action) if out["decision"].approved else "blocked"

    for symbol, interval in CANDIDATES:
        if asyncio.run(decide(symbol, interval)) == "buy":
            return symbol, interval
    raise AssertionError(f"the offline desk buys none of {CANDIDATES} right now")


@pytest.fixture(scope="module")
def buy_pair(synth_desk: Desk) -> tuple[str, str]:
    return _buying_pair(synth_desk)


async def _trades(desk: Desk) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as http:
        r = await http.get(f"/api/portfolios/{desk.portfolio_id}/trades")
        assert r.status_code == 200, r.text
        return list(r.json())


async def _paused_for_approval(client: Any, thread: str) -> dict[str, Any]:
    """The pending approval: LangChain 1.0's HITLRequest, one execute_order request."""
    state: Any = await client.threads.get_state(thread)
    assert state["next"] == ["execute"]
    (interrupt,) = state["interrupts"]
    request: dict[str, Any] = interrupt["value"]
    (action,) = request["action_requests"]
    assert action["name"] == "execute_order" and action["description"]
    assert request["review_configs"] == [
        {"action_name": "execute_order", "allowed_decisions": ["approve", "edit", "reject"]}
    ]
    return request


def _edit(args: dict[str, Any], size_pct: float) -> dict[str, Any]:
    """An edit as Agent Chat UI sends it: every arg back, the edited one as text."""
    edited = {**args, "size_pct": str(size_pct)}
    return {
        "decisions": [{"type": "edit", "edited_action": {"name": "execute_order", "args": edited}}]
    }


@pytest.mark.parametrize("response", ["approve", "reject", "edit"])
async def test_approval_interrupts_then_approve_fills_once_reject_nothing_edit_only_smaller(
    synth_desk: Desk, buy_pair: tuple[str, str], response: str
) -> None:
    desk = synth_desk
    from langgraph_sdk import get_client

    client = get_client(url=desk.url, api_key=None)
    context = {"portfolio_id": desk.portfolio_id, "require_approval": True}
    symbol, interval = buy_pair
    thread = (await client.threads.create())["thread_id"]
    before = len(await _trades(desk))
    await client.runs.wait(
        thread,
        "cryptofirm_desk",
        input=_user(f"analyze and trade {symbol} {interval}"),
        context=context,
    )
    request = await _paused_for_approval(client, thread)
    args = request["action_requests"][0]["args"]
    assert (args["symbol"], args["side"]) == (symbol, "buy")
    assert len(await _trades(desk)) == before

    async def resume(answer: Any) -> Any:
        return await client.runs.wait(
            thread, "cryptofirm_desk", command={"resume": answer}, context=context
        )

    if response == "edit":  # larger: refused, asked again, nothing traded; smaller: filled
        await resume(_edit(args, args["size_pct"] * 2))
        again = (await _paused_for_approval(client, thread))["action_requests"][0]
        assert (
            "not applied" in again["description"]
            and "at most the approved" in (again["description"])
        )
        assert len(await _trades(desk)) == before
        done = await resume(_edit(args, round(args["size_pct"] / 2, 2)))
    elif response == "approve":
        done = await resume({"decisions": [{"type": "approve"}]})
    else:
        # Agent Chat UI's "Mark as Resolved" (goto END) answers nothing: refused, not ignored.
        async with httpx.AsyncClient(base_url=desk.url, timeout=30) as http:
            resolve = {"goto": "__end__"}
            goto = await http.post(
                f"/threads/{thread}/runs/wait",
                json={"assistant_id": "cryptofirm_desk", "input": {}, "command": resolve},
            )
        assert goto.status_code == 422 and "command.goto" in goto.text
        await _paused_for_approval(client, thread)  # still waiting
        done = await resume({"decisions": [{"type": "reject", "message": "not today"}]})
    trades = await _trades(desk)
    answer = done["messages"][-1]["content"]
    if response == "reject":
        assert done["execution"]["status"] == "rejected_by_human" and len(trades) == before
        assert "rejected by a human: not today" in answer
    else:
        assert done["execution"]["status"] == "filled" and "Execution: filled" in answer
        assert len(trades) == before + 1 and trades[-1]["symbol"] == symbol
    if response == "edit":
        assert "A human cut the size to" in answer
    assert "synthetic data" in answer

    # Nothing is pending any more: a second resume is refused before any run starts.
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as http:
        again = await http.post(
            f"/threads/{thread}/runs/wait",
            json={
                "assistant_id": "cryptofirm_desk",
                "command": {"resume": {"decisions": [{"type": "approve"}]}},
            },
        )
    assert again.status_code == 409 and "command.resume" in again.text
    assert len(await _trades(desk)) == len(trades)


def test_the_js_sdk_drives_the_same_desk(
    desk: Desk, synth_desk: Desk, buy_pair: tuple[str, str]
) -> None:
    js = ROOT / "tests" / "js"
    if not (js / "node_modules" / "@langchain" / "langgraph-sdk").is_dir():
        pytest.fail("tests/js has no node_modules: run `make js-sdk-install`")
    node = shutil.which("node")
    assert node is not None, "node is required for the JS SDK test"
    env = {
        **os.environ,
        "LANGGRAPH_URL": desk.url,
        "APPROVAL_URL": synth_desk.url,
        "PORTFOLIO_ID": str(synth_desk.portfolio_id),
        "BUY_SYMBOL": buy_pair[0],
        "BUY_INTERVAL": buy_pair[1],
    }
    done = subprocess.run(
        [node, "--test", "--test-reporter=spec", "chat.test.mjs"],
        cwd=js,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout or "fail 0" in done.stdout
