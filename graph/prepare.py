"""`prepare`: the facts the analysts need — indicator snapshot, sentiment and tokenomics inputs.

A snapshot in the input state (the backtest's bar t) is used as is; otherwise the context's
`MarketDataProvider` loads one. An outside feed that fails does not stop the desk: its input
stays None, an error is written to the custom stream, and that analyst reports neutral with
confidence 0 (labelled `unavailable`). A loaded snapshot too old to trade on (see
`risk_gate.is_stale`) is reported as a warning on the custom stream before anyone reasons.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from langgraph.runtime import Runtime

from core.risk import RiskLimits
from graph.agents.base import desk_context
from graph.context import DeskContext, SourceChainMarketData, decision_time
from graph.risk_gate import is_stale
from graph.state import InputState
from tools.sentiment import SentimentUnavailableError
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import TokenomicsUnavailableError


def stale_data_warning(snap: IndicatorSnapshot, limits: RiskLimits, now: datetime) -> str | None:
    """Say loudly why the desk will not trade on old candles (the risk gate blocks it anyway)."""
    if not is_stale(snap, limits, now):
        return None
    age_h = (now - snap.as_of).total_seconds() / 3600
    return (
        f"stale data: the latest {snap.source} {snap.symbol} {snap.interval} bar opened "
        f"{snap.as_of:%Y-%m-%d %H:%M} UTC, {age_h:,.0f} h before {now:%Y-%m-%d %H:%M} UTC "
        f"(limit {limits.max_data_age_bars} bars); the desk will not trade on it. "
        "Fetch fresh candles (cryptofirm data fetch) or replay that time with --as-of."
    )


def turn_clock(state: InputState, ctx: DeskContext) -> datetime | None:
    """The decision time of this turn: the replayed bar's close for an `as_of` turn, else the
    context's clock (None → real time)."""
    if state.as_of is not None:
        return decision_time(state.as_of, state.interval)[1]
    return ctx.now


def data_warnings(snap: IndicatorSnapshot) -> list[str]:
    """What the answer must say about where the candles came from (besides staleness)."""
    warnings = []
    if snap.source == "synthetic":
        warnings.append(
            f"synthetic data: no stored or live {snap.symbol} {snap.interval} candles were "
            "available, so the desk analysed GENERATED candles — not market prices. "
            "Import or fetch history (cryptofirm data) for a real analysis."
        )
    if "resampled" in snap.source:
        warnings.append(
            f"resampled data: the {snap.interval} candles were built from shorter stored bars."
        )
    return warnings


async def prepare_node(state: InputState, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = desk_context(runtime)
    if ctx.portfolio_id is not None:  # Studio names a portfolio: (re)load it off the loop
        ctx = await asyncio.to_thread(ctx.bind_portfolio)
    assert ctx.market_data is not None and ctx.sentiment is not None
    assert ctx.tokenomics is not None
    update: dict[str, Any] = {}
    snap = state.snapshot
    if snap is None:
        market = ctx.market_data
        if state.as_of is not None:  # a chat/Studio replay of a past bar
            market = SourceChainMarketData(ctx.settings, ctx.engine, as_of=state.as_of)
        # Candle loading may hit the network or the database: keep the event loop free.
        snap = await asyncio.to_thread(market.snapshot, state.symbol, state.interval)
        update["snapshot"] = snap
        update["snapshot_loaded"] = True
        now = turn_clock(state, ctx) or datetime.now(UTC)
        warning = stale_data_warning(snap, ctx.risk_limits, now)
        if warning is not None:
            update["warnings"] = [warning]
            runtime.stream_writer(
                {"event": "error", "severity": "warning", "node": "prepare", "message": warning}
            )
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
    update["warnings"] = [*update.get("warnings", []), *data_warnings(snap)]
    return update
