"""Backtest throughput: a one-year, every-bar rules-engine backtest on real BTC 1h candles,
against the bare LangGraph graph of the desk's topology (9 trivial nodes) measured in the same
run, plus the backtest's peak memory (ru_maxrss of a fresh subprocess)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import REAL_BTC_1H


def bare_graph_rate(n: int = 1000) -> float:
    """Invocations/s of bench_graph's bare graph (the desk's 11-node topology, trivial nodes):
    the framework floor."""
    from bench.bench_graph import bare_graph

    g = bare_graph()
    loop = asyncio.new_event_loop()
    start = time.perf_counter()
    for _ in range(n):
        loop.run_until_complete(g.ainvoke({"seen": []}))
    loop.close()
    return n / (time.perf_counter() - start)


def one_year() -> dict[str, float]:
    """Runs in the subprocess: the 2023 every-bar rules backtest."""
    import resource
    from datetime import UTC, datetime

    import pandas as pd

    from core.settings import Settings
    from graph.backtest.data import prepare_data
    from graph.backtest.desk import GraphDecider
    from graph.backtest.engine import run_engine
    from graph.backtest.schemas import BacktestParams

    frame = pd.read_feather(REAL_BTC_1H).set_index("date").loc["2022-12-01":"2023-12-31"]
    params = BacktestParams(
        symbol="BTCUSDT",
        interval="1h",
        start=datetime(2023, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 1, tzinfo=UTC),
    )
    data = prepare_data(frame, params, source="store")
    decider = GraphDecider.for_backtest(params, run_id="bench", settings=Settings(), db=None)
    start = time.perf_counter()
    outcome = run_engine(data.market, params, decider, data.snapshots, data_source="store")
    elapsed = time.perf_counter() - start
    decisions = len(outcome.state.decisions)
    return {
        "decisions": decisions,
        "seconds": elapsed,
        "decisions_per_s": decisions / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    if not REAL_BTC_1H.is_file():
        print(f"skipped: real BTC 1h data not found at {REAL_BTC_1H}")
        return
    bare = bare_graph_rate()
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, bench.bench_backtest as b; print(json.dumps(b.one_year()))",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"bare desk-topology graph:    {bare:8.1f} invocations/s")
    print(
        f"one-year rules backtest:     {result['decisions_per_s']:8.1f} decisions/s "
        f"({result['decisions']:.0f} decisions in {result['seconds']:.1f} s; target ≥ 100)"
    )
    print(f"backtest / bare graph rate:  {result['decisions_per_s'] / bare:8.2f}×")
    print(f"peak memory (ru_maxrss):     {result['peak_rss_mb']:8.1f} MB (target ≤ 600)")


if __name__ == "__main__":
    main()
