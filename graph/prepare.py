"""`prepare`: the facts the analysts need — indicator snapshot, sentiment and tokenomics inputs.

A snapshot in the input state (the backtest's bar t) is used as is; otherwise the context's
`MarketDataProvider` loads one. Sentiment and tokenomics are asked for what was public at the
decision time `at` (`ctx.now`, the bar's close in backtests and replays; now otherwise), each
answering with its own `as_of` and `source`. An outside feed that fails does not stop the
desk: its input stays None, an error is written to the custom stream, and that analyst reports
neutral with confidence 0 (labelled `unavailable`). A loaded snapshot too old to trade on (see
`risk_gate.is_stale`) is reported as a warning on the custom stream before anyone reasons.

A chat/Studio turn with `as_of` replays that bar: the context becomes the replay's (stored
candles up to that bar, point-in-time inputs, the bar's close as the clock), as in
`runner.build_context`. Data warnings (stale, synthetic, resampled) go to `warnings` for the
turn's answer. A Studio context naming `portfolio_id` is bound here, off the event loop.

In blind mode (`ctx.blind`) everything the agents read afterwards — symbol, snapshot,
portfolio, sentiment, tokenomics — is masked by `tools.blind.Blinder`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from core.risk import RiskLimits
from core.settings import Settings
from graph.agents.base import desk_context
from graph.context import (
    DeskContext,
    PortfolioView,
    PositionView,
    SourceChainMarketData,
    decision_time,
)
from graph.risk_gate import is_stale
from graph.state import InputState
from tools.blind import BLIND_SYMBOL, Blinder
from tools.sentiment import (
    PointInTimeSentimentProvider,
    SentimentUnavailableError,
    point_in_time_sentiment,
)
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import PointInTimeTokenomicsProvider, TokenomicsUnavailableError

if TYPE_CHECKING:
    from sqlalchemy import Engine


def point_in_time_providers(
    settings: Settings, engine: Engine | None
) -> tuple[PointInTimeSentimentProvider, PointInTimeTokenomicsProvider]:
    """The inputs of backtests and replays: Fear & Greed history under
    `settings.sentiment_data_dir`, headlines imported into `engine` (none without one), BTC's
    issuance schedule and the dated tokenomics table."""
    loader = None
    if engine is not None:
        from persistence.headlines import headline_loader

        loader = headline_loader(engine)
    return point_in_time_sentiment(settings, loader), PointInTimeTokenomicsProvider()


def blind_portfolio(view: PortfolioView, blinder: Blinder) -> PortfolioView:
    """Values unchanged; quantities and entry prices in the rebased units, keyed by ticker."""
    positions = {
        (BLIND_SYMBOL if symbol == blinder.symbol else symbol): PositionView(
            quantity=pos.quantity / blinder.factor,
            market_value=pos.market_value,
            avg_entry_price=blinder.price(pos.avg_entry_price),
        )
        for symbol, pos in view.positions.items()
    }
    return view.model_copy(update={"positions": positions})


FRESH_BARS: int = RiskLimits.model_fields["max_data_age_bars"].default
"""Candles older than this many bars at the decision time are stale (the firm's default limit)."""


def stale_data_warning(snap: IndicatorSnapshot, limits: RiskLimits, now: datetime) -> str | None:
    """Say loudly when the candles are old at the decision time `now`: older than the
    portfolio's data-age limit (the risk gate will block any trade) or than the firm's default
    `FRESH_BARS`, also when the portfolio's looser limit accepts them (then the desk may trade on
    old prices, and the warning says so)."""
    blocked = is_stale(snap, limits, now)
    fresh = RiskLimits()  # max_data_age_bars = FRESH_BARS
    if not blocked and not is_stale(snap, fresh, now):
        return None
    age_h = (now - snap.as_of).total_seconds() / 3600
    head = (
        f"stale data: the latest {snap.source} {snap.symbol} {snap.interval} bar opened "
        f"{snap.as_of:%Y-%m-%d %H:%M} UTC, {age_h:,.0f} h before {now:%Y-%m-%d %H:%M} UTC"
    )
    if blocked:
        return f"{head} (limit {limits.max_data_age_bars} bars); the desk will not trade on it."
    return (
        f"{head} (more than {FRESH_BARS} bars); the portfolio's data-age limit "
        f"({limits.max_data_age_bars:,} bars) accepts it, so the desk decides on old prices."
    )


def turn_clock(state: InputState, ctx: DeskContext) -> datetime | None:
    """The decision time of this turn: the replayed bar's close for an `as_of` turn, else the
    context's clock (None → real time)."""
    if state.as_of is not None:
        return decision_time(state.as_of, state.interval)[1]
    return ctx.now


def replay_context(ctx: DeskContext, state: InputState) -> DeskContext:
    """The context of an `as_of` turn (a replay): what `runner.build_context` gives a replay."""
    assert state.as_of is not None
    sentiment, tokenomics = point_in_time_providers(ctx.settings, ctx.engine)
    return replace(
        ctx,
        now=turn_clock(state, ctx),
        market_data=SourceChainMarketData(ctx.settings, ctx.engine, as_of=state.as_of),
        sentiment=sentiment,
        tokenomics=tokenomics,
    ).resolved()


def data_warnings(snap: IndicatorSnapshot) -> list[str]:
    """What the answer must say about where the candles came from (besides staleness)."""
    warnings = []
    if snap.source == "synthetic":
        warnings.append(
            f"synthetic data: these {snap.symbol} {snap.interval} candles are GENERATED "
            "(DATA_SOURCE=synthetic or a synthetic portfolio), not market prices; the decision "
            "says nothing about the real market."
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
    if state.as_of is not None and state.snapshot is None:
        ctx = await asyncio.to_thread(replay_context, ctx, state)
    assert ctx.market_data is not None and ctx.sentiment is not None
    assert ctx.tokenomics is not None
    update: dict[str, Any] = {}
    snap = state.snapshot
    if snap is None:
        # Candle loading may hit the network or the database: keep the event loop free.
        snap = await asyncio.to_thread(ctx.market_data.snapshot, state.symbol, state.interval)
        update["snapshot"] = snap
        update["snapshot_loaded"] = True
        warning = stale_data_warning(snap, ctx.risk_limits, ctx.now or datetime.now(UTC))
        if warning is not None:
            update["warnings"] = [warning]
            runtime.stream_writer(
                {
                    "event": "error",
                    "severity": "warning",
                    "code": "stale_data",
                    "node": "prepare",
                    "message": warning,
                }
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
    at = ctx.now or datetime.now(UTC)
    try:
        update["sentiment_inputs"] = await asyncio.to_thread(ctx.sentiment.get, state.symbol, at=at)
    except SentimentUnavailableError as exc:
        runtime.stream_writer({"event": "error", "node": "prepare", "message": str(exc)})
        update["sentiment_inputs"] = None
    try:
        update["tokenomics_inputs"] = ctx.tokenomics.get(state.symbol, snap.close, at=at)
    except TokenomicsUnavailableError as exc:
        runtime.stream_writer({"event": "error", "node": "prepare", "message": str(exc)})
        update["tokenomics_inputs"] = None
    update["warnings"] = [*update.get("warnings", []), *data_warnings(snap)]
    if ctx.blind:
        blinder = Blinder.for_decision(snap, at)
        update["symbol"] = BLIND_SYMBOL
        update["snapshot"] = blinder.snapshot(snap)
        if update["portfolio"] is not None:
            update["portfolio"] = blind_portfolio(update["portfolio"], blinder)
        if update["sentiment_inputs"] is not None:
            update["sentiment_inputs"] = blinder.sentiment(update["sentiment_inputs"])
        if update["tokenomics_inputs"] is not None:
            update["tokenomics_inputs"] = blinder.tokenomics(update["tokenomics_inputs"])
    return update
