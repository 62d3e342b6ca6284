"""`prepare`: the facts the analysts need — indicator snapshot, sentiment and tokenomics inputs.

A snapshot in the input state (the backtest's bar t) is used as is; otherwise the context's
`MarketDataProvider` loads one. An outside feed that fails does not stop the desk: its input
stays None, an error is written to the custom stream, and that analyst reports neutral with
confidence 0 (labelled `unavailable`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.agents.base import desk_context
from graph.state import DeskState
from tools.sentiment import SentimentUnavailableError
from tools.tokenomics import TokenomicsUnavailableError


async def prepare_node(state: DeskState, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = desk_context(runtime)
    assert ctx.market_data is not None and ctx.sentiment is not None
    assert ctx.tokenomics is not None
    update: dict[str, Any] = {}
    snap = state.snapshot
    if snap is None:
        # Candle loading may hit the network or the database: keep the event loop free.
        snap = await asyncio.to_thread(ctx.market_data.snapshot, state.symbol, state.interval)
        update["snapshot"] = snap
    elif snap.symbol != state.symbol or snap.interval != state.interval:
        raise ValueError(
            f"snapshot is for {snap.symbol} {snap.interval}, "
            f"the run for {state.symbol} {state.interval}"
        )
    if ctx.portfolio_provider is not None:
        update["portfolio"] = await asyncio.to_thread(ctx.portfolio_provider, snap)
    else:
        update["portfolio"] = ctx.portfolio
    try:
        update["sentiment_inputs"] = ctx.sentiment.get(state.symbol)
    except SentimentUnavailableError as exc:
        runtime.stream_writer({"event": "error", "node": "prepare", "message": str(exc)})
        update["sentiment_inputs"] = None
    try:
        update["tokenomics_inputs"] = ctx.tokenomics.get(state.symbol, snap.close)
    except TokenomicsUnavailableError as exc:
        runtime.stream_writer({"event": "error", "node": "prepare", "message": str(exc)})
        update["tokenomics_inputs"] = None
    return update
