"""The three analysts run in the same superstep: with a 200 ms fake model their calls overlap,
and the whole decision takes far less than six sequential calls."""

from __future__ import annotations

import itertools
import time

from graph_fakes import FakeModelClient, desk_context, state_in

from graph.graph import graph

DELAY = 0.2


async def test_analysts_overlap_in_time() -> None:
    client = FakeModelClient(delay_s=DELAY)
    ctx = desk_context(client, run_id="parallel")
    started = time.perf_counter()
    out = await graph.ainvoke(state_in(), context=ctx)
    elapsed = time.perf_counter() - started

    analysts = [c for c in client.calls if c.agent in ("technical", "sentiment", "tokenomics")]
    assert len(analysts) == 3
    assert max(c.start for c in analysts) < min(c.end for c in analysts), "analysts ran serially"
    # 4 model "rounds" of 200 ms (analysts together, then 3 sequential) vs 6 sequential calls
    # (which alone take 6 x DELAY, before any overhead).
    assert elapsed < 6 * DELAY, elapsed
    assert set(out["reports"]) == {"technical", "sentiment", "tokenomics"}
    later = {c.agent: c.start for c in client.calls}
    assert later["researcher"] >= max(c.end for c in analysts)


async def test_each_agent_appends_one_named_message() -> None:
    out = await graph.ainvoke(state_in(), context=desk_context(run_id="msgs"))
    names = [m.name for m in out["messages"]]
    # ... and the desk's answer ends the turn.
    assert names[-1] == "desk"
    assert sorted(names[:-1]) == sorted(
        ["technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"]
    )
    assert all(m.content for m in out["messages"])
    assert out["decision"] is not None and out["execution"].status == "skipped"


async def test_messages_mode_streams_token_chunks_of_every_agent_interleaved() -> None:
    """LangGraph's `messages` stream mode sees the chat models' token chunks, tagged with their
    node, for the offline rules engine: the analysts' chunks interleave (they stream
    concurrently), and every agent's final state message carries its name and the streamed
    message's id."""
    nodes: list[str] = []
    ids: dict[str, set[str]] = {}
    final: dict[str, object] = {}
    async for mode, chunk in graph.astream(
        state_in(), context=desk_context(run_id="chunks"), stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            message, meta = chunk
            node = meta["langgraph_node"]
            if type(message).__name__ == "AIMessageChunk":
                nodes.append(node)
                ids.setdefault(node, set()).add(message.id)
        else:
            final = chunk
    agents = {"technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"}
    assert set(nodes) == agents
    assert all(nodes.count(a) > 5 for a in agents)  # token by token, not one message each
    analysts = [n for n in nodes if n in ("technical", "sentiment", "tokenomics")]
    switches = sum(1 for a, b in itertools.pairwise(analysts) if a != b)
    assert switches > 10, "the analysts streamed one after another"
    # The agents' messages, then the desk's answer (written whole by `report`, not streamed).
    *messages, answer = final["messages"]  # type: ignore[index]
    assert answer.name == "desk" and {m.name for m in messages} == agents
    for m in messages:
        assert ids[m.name] == {m.id}  # one streamed message per agent, same id in the state
