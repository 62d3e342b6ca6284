"""Desk benchmarks, measured in one run on the same machine:

1. pipeline overhead per decision with an instant fake model vs a bare LangGraph graph of the
   same topology with trivial nodes (target ≤ 1.5×);
2. decision latency with six equal 200 ms fake calls vs six sequential 200 ms calls
   (target ≤ 0.70×: the three analysts overlap);
3. rules-engine decisions per second through the graph (target ≥ 100/s).
"""

from __future__ import annotations

import asyncio
import operator
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "graph"))

from graph_fakes import FakeModelClient, desk_context, state_in

from graph.graph import graph

ANALYSTS = ("technical", "sentiment", "tokenomics")
DELAY = 0.2


class _BareState(TypedDict, total=False):
    seen: Annotated[list[str], operator.add]


def bare_graph(delay: float = 0.0) -> Any:
    """Same topology as the desk (prepare → 3 parallel → researcher → trader → risk → gate →
    execute) with trivial nodes."""

    def node(name: str) -> Any:
        async def run(state: _BareState) -> dict[str, Any]:
            if delay and name in (*ANALYSTS, "researcher", "trader", "risk_manager"):
                await asyncio.sleep(delay)
            return {"seen": [name]}

        return run

    b: StateGraph[Any, Any, Any, Any] = StateGraph(_BareState)
    names = ["prepare", *ANALYSTS, "researcher", "trader", "risk_manager", "risk_gate", "execute"]
    for name in names:
        b.add_node(name, node(name))
    b.add_edge(START, "prepare")
    for a in ANALYSTS:
        b.add_edge("prepare", a)
    b.add_edge(list(ANALYSTS), "researcher")
    for x, y in [
        ("researcher", "trader"),
        ("trader", "risk_manager"),
        ("risk_manager", "risk_gate"),
        ("risk_gate", "execute"),
        ("execute", END),
    ]:
        b.add_edge(x, y)
    return b.compile()


async def _per_decision(fn: Any, n: int) -> float:
    await fn()  # warm-up
    started = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - started) / n


async def _main() -> None:
    n = 200
    bare = bare_graph()
    inp = state_in()
    instant = desk_context(FakeModelClient(), run_id="bench", stream_tokens=False, use_cache=False)
    rules = desk_context(run_id="bench-rules", stream_tokens=False)

    async def desk_fake() -> None:
        await graph.ainvoke(inp, context=instant)

    async def desk_rules() -> None:
        await graph.ainvoke(inp, context=rules)

    async def bare_run() -> None:
        await bare.ainvoke({})

    t_bare = await _per_decision(bare_run, n)
    t_fake = await _per_decision(desk_fake, n)
    t_rules = await _per_decision(desk_rules, n)
    print(f"bare 6-agent graph, trivial nodes : {t_bare * 1e3:7.2f} ms/decision")
    print(f"desk, instant fake model          : {t_fake * 1e3:7.2f} ms/decision")
    print(f"  overhead ratio desk/bare        : {t_fake / t_bare:7.2f}x (target <= 1.5x)")
    print(
        f"desk, rules engine                : {t_rules * 1e3:7.2f} ms/decision "
        f"= {1 / t_rules:6.0f} decisions/s (target >= 100/s)"
    )

    slow = desk_context(
        FakeModelClient(delay_s=DELAY), run_id="bench-slow", stream_tokens=False, use_cache=False
    )
    t_desk_slow = await _per_decision(lambda: graph.ainvoke(inp, context=slow), 3)

    async def sequential() -> None:
        for _ in range(6):
            await asyncio.sleep(DELAY)

    t_seq = await _per_decision(sequential, 3)
    print(f"desk with 6 x {DELAY * 1e3:.0f} ms fake calls     : {t_desk_slow * 1e3:7.1f} ms")
    print(f"six sequential {DELAY * 1e3:.0f} ms calls          : {t_seq * 1e3:7.1f} ms")
    print(f"  latency ratio desk/sequential   : {t_desk_slow / t_seq:7.2f}x (target <= 0.70x)")


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
