"""The rules engine is a deterministic policy: same inputs → identical outputs, on real BTC
candles, and its direction follows the indicators."""

from __future__ import annotations

import pandas as pd
import pytest
from graph_fakes import desk_context, snapshot, state_in

from graph.graph import graph
from graph.rules_engine import researcher, technical


def test_direction_follows_the_indicators() -> None:
    up, _ = technical(snapshot(trend="up"))
    down, _ = technical(snapshot(trend="down"))
    assert up.signal == "bullish" and up.score > 0.15
    assert down.signal == "bearish" and down.score < -0.15
    thesis, text = researcher({"technical": down, "sentiment": up, "tokenomics": up})
    assert "sentiment disagrees" in " ".join(thesis.key_risks) and "Weighing" in text


@pytest.mark.realdata
async def test_deterministic_on_real_btc(real_btc_1h) -> None:  # type: ignore[no-untyped-def]
    from tools.indicators import IndicatorTable, compute_indicators

    frame = pd.read_feather(real_btc_1h).set_index("date").iloc[-1500:]
    frame.index.name = "open_time"
    table = IndicatorTable(
        compute_indicators(frame, "1h"), symbol="BTCUSDT", interval="1h", source="import"
    )
    positions = range(300, 1500, 97)
    snaps = [table.snapshot(at) for at in positions]
    decisions = []
    for _ in range(2):
        run = []
        for snap in snaps:
            ctx = desk_context(run_id="det", now=snap.as_of)
            out = await graph.ainvoke(state_in(snap), context=ctx)
            run.append((out["decision"].model_dump(), [m.content for m in out["messages"]]))
        decisions.append(run)
    assert decisions[0] == decisions[1]
    actions = {d["action"] for d, _ in decisions[0]}
    assert len(actions) >= 2, f"a policy that always says {actions} on 13 real bars is suspicious"
