"""The three analysts run in the same superstep: with a 200 ms fake model their calls overlap,
and the whole decision takes far less than six sequential calls."""

from __future__ import annotations

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
    # 4 model "rounds" of 200 ms (analysts together, then 3 sequential) vs 6 sequential calls.
    assert elapsed < 6 * DELAY * 0.8, elapsed
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
