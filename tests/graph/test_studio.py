"""`langgraph dev` serves the checkpointer-free desk from langgraph.json; driven with
langgraph-sdk: create a thread, stream a run, read the final state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from studio_server import langgraph_dev


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    with langgraph_dev(tmp_path, database="studio.db") as url:
        yield url


@pytest.mark.studio
@pytest.mark.slow
async def test_langgraph_dev_serves_the_desk(dev_server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=dev_server)
    thread = await client.threads.create()
    seen: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "cryptofirm_desk",
        input={"symbol": "BTCUSDT", "interval": "1h"},
        stream_mode="updates",
    ):
        if part.event == "updates" and isinstance(part.data, dict):
            seen.extend(part.data)
    # A fresh structured run goes straight to prepare (no chat turn to read).
    assert "intake" not in seen
    assert {
        "prepare",
        "technical",
        "sentiment",
        "tokenomics",
        "researcher",
        "trader",
        "risk_manager",
        "risk_gate",
        "execute",
        "report",
    } <= set(seen)
    state = await client.threads.get_state(thread["thread_id"])
    values = state["values"]
    assert values["decision"]["action"] in ("buy", "sell", "hold")
    names = [m.get("name") for m in values["messages"]]
    # Six agents' messages, then the desk's answer.
    assert len(names) == 7 and "risk_manager" in names and names[-1] == "desk"
