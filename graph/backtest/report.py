"""Turn an engine outcome into the report: metrics, baselines, decision spread and warnings.

Metrics come from `tools.metrics.compute_metrics` over the per-bar equity curve; the baselines
(buy & hold, an SMA cross) from `tools.baselines`, run over exactly the same traded bars with the
same fees and slippage. The rules-engine baseline is a whole second backtest and is attached by
the caller (`runs.py`), since it needs the decider machinery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from graph.backtest.data import BacktestData
from graph.backtest.schemas import (
    BacktestParams,
    DecisionRecord,
    DecisionSpread,
    EngineOutcome,
    FillRecord,
    LLMUsage,
    StopReason,
)
from tools.metrics import BacktestMetrics, ClosedTrade, compute_metrics

BUY_AND_HOLD_DEFINITION = (
    "buys with all the cash at the first bar's close and sells at the last bar's close, "
    "paying the same fees and slippage as the desk"
)
"""The one buy & hold there is: the baseline's metrics, its curve and every label use it."""


class BaselineResult(BaseModel):
    name: str
    metrics: BacktestMetrics | None = None
    note: str | None = Field(default=None, description="what this baseline is, in plain words")
    same_as_desk: bool = Field(
        default=False, description="True when this baseline is the desk's own run (not re-run)"
    )
    equity_curve: list[tuple[datetime, float]] | None = Field(
        default=None, description="per-bar equity, for the baselines drawn beside the desk"
    )


class BacktestReport(BaseModel):
    """What a backtest produces; stored in `backtest_results` (and shown by CLI, API, UI)."""

    params: BacktestParams
    model: str
    data_source: str
    stopped: StopReason
    partial: bool
    metrics: BacktestMetrics | None = Field(description="None when no bar was walked")
    baselines: dict[str, BaselineResult] = Field(default_factory=dict)
    decision_spread: DecisionSpread
    usage: LLMUsage
    warnings: list[str] = Field(default_factory=list)
    equity_curve: list[tuple[datetime, float]]
    fills: list[FillRecord]
    trades: list[ClosedTrade]
    decisions: int
    rejected_orders: int = 0
    memorisation_note: str | None = Field(
        default=None,
        description="set when the window starts before a desk model's training cutoff",
    )
    blind: bool = False
    decision_log: list[DecisionRecord] = Field(
        default_factory=list, description="every decision with its inputs' sources and as_of"
    )


def _open_position_trade(outcome: EngineOutcome, data: BacktestData) -> ClosedTrade | None:
    """A position still open at the end is reported as a trade closed at the last close with
    exit_reason 'end' (no exit fee: nothing was sold)."""
    account = outcome.state.account
    position = account["state"]["positions"].get(outcome_symbol(outcome))
    if not position or not outcome.state.equity:
        return None
    last = outcome.state.next_bar - 1
    quantity = float(position["quantity"])
    basis = float(position["cost_basis"])
    entry_price = basis / quantity
    exit_price = data.market.close[last]
    entry_fees = float(account["entry_fees"])
    pnl = (exit_price - entry_price) * quantity - entry_fees
    return ClosedTrade(
        symbol=outcome_symbol(outcome),
        entry_time=datetime.fromisoformat(account["entry_time"]),
        exit_time=data.market.time(last),
        entry_price=entry_price,
        exit_price=exit_price,
        quantity=quantity,
        pnl=pnl,
        fees=entry_fees,
        return_pct=100 * pnl / (basis + entry_fees),
        exit_reason="end",
    )


def outcome_symbol(outcome: EngineOutcome) -> str:
    return str(outcome.state.account["symbol"])


def equity_series(outcome: EngineOutcome) -> pd.Series:
    index = pd.to_datetime(outcome.state.equity_times_ms, unit="ms", utc=True)
    return pd.Series(outcome.state.equity, index=index, dtype="float64", name="equity")


def closed_trades(outcome: EngineOutcome, data: BacktestData) -> list[ClosedTrade]:
    trades = [ClosedTrade.model_validate(t) for t in outcome.closed_trades]
    still_open = _open_position_trade(outcome, data)
    return [*trades, still_open] if still_open else trades


def metrics_for(
    outcome: EngineOutcome, data: BacktestData, interval: str
) -> BacktestMetrics | None:
    equity = equity_series(outcome)
    if len(equity) < 2:
        return None
    fees = float(sum(f.fee for f in outcome.fills))
    return compute_metrics(
        equity,
        closed_trades(outcome, data),
        interval=interval,
        fees_paid=fees,
        exposure_bars=outcome.state.exposure_bars,
    )


def market_baselines(
    outcome: EngineOutcome, data: BacktestData, params: BacktestParams
) -> dict[str, BaselineResult]:
    """Buy & hold (`BUY_AND_HOLD_DEFINITION`, with its equity curve for the chart) and an
    SMA(20/50) cross over the same walked bars, fees and slippage."""
    from tools import baselines

    lo, hi = outcome.first_bar, outcome.state.next_bar
    close = data.close.iloc[lo:hi]
    open_ = data.open.iloc[lo:hi]
    if len(close) < 2:
        return {}
    costs: dict[str, Any] = {
        "starting_cash": float(params.starting_cash),
        "fee_rate": float(params.fee_rate),
        "slippage_bps": float(params.slippage_bps),
    }
    out: dict[str, BaselineResult] = {}
    results = (
        baselines.buy_and_hold(close, symbol=params.symbol, **costs),
        baselines.sma_cross(close, open=open_, symbol=params.symbol, **costs),
    )
    notes = {
        "buy_and_hold": BUY_AND_HOLD_DEFINITION,
        "sma_cross": "long while the 20-bar average close is above the 50-bar one, same costs",
    }
    for name, result in zip(("buy_and_hold", "sma_cross"), results, strict=True):
        out[name] = BaselineResult(
            name=name,
            note=notes[name],
            metrics=compute_metrics(
                result.equity,
                result.trades,
                interval=params.interval,
                fees_paid=float(result.fees_paid),
                exposure_bars=int(result.exposure_bars),
            ),
            equity_curve=(
                list(
                    zip(
                        pd.DatetimeIndex(result.equity.index).to_pydatetime(),
                        result.equity.tolist(),
                        strict=True,
                    )
                )
                if name == "buy_and_hold"
                else None
            ),
        )
    return out


def build_report(
    outcome: EngineOutcome,
    data: BacktestData,
    params: BacktestParams,
    *,
    model: str,
    baselines: dict[str, BaselineResult] | None = None,
) -> BacktestReport:
    spread = outcome.state.spread
    warnings: list[str] = []
    if (warning := spread.dominant_warning()) is not None:
        warnings.append(warning)
    if outcome.partial:
        done = outcome.state.next_bar - outcome.first_bar
        total = outcome.last_bar - outcome.first_bar + 1
        warnings.append(f"partial result ({outcome.stopped}): {done} of {total} bars walked")
    if data.source == "synthetic":
        warnings.append("candles are SYNTHETIC (asked for), not market prices")
    warnings.extend(params.data_notes)
    warnings.extend(input_warnings(outcome.state.decisions))
    rejected = int(outcome.state.account.get("rejections", 0))
    if rejected:
        warnings.append(f"{rejected} order(s) refused by the broker (dust, nothing held, cash)")
    times = outcome.state.equity_times_ms
    return BacktestReport(
        params=params,
        model=model,
        data_source=data.source,
        stopped=outcome.stopped,
        partial=outcome.partial,
        metrics=metrics_for(outcome, data, params.interval),
        baselines=baselines if baselines is not None else market_baselines(outcome, data, params),
        decision_spread=spread,
        usage=outcome.state.usage,
        warnings=warnings,
        equity_curve=[
            (datetime.fromtimestamp(ms / 1000, tz=UTC), value)
            for ms, value in zip(times, outcome.state.equity, strict=True)
        ],
        fills=outcome.fills,
        trades=closed_trades(outcome, data),
        decisions=spread.total,
        rejected_orders=rejected,
        blind=params.blind,
        decision_log=list(outcome.state.decisions),
    )


def input_warnings(decisions: list[DecisionRecord]) -> list[str]:
    """Say how many decisions had no sentiment or tokenomics inputs (those analysts then
    reported neutral, unavailable): a silent gap would look like a neutral market."""
    out: list[str] = []
    for name, attr in (("sentiment", "sentiment_source"), ("tokenomics", "tokenomics_source")):
        missing = [d for d in decisions if d.inputs is not None and getattr(d.inputs, attr) is None]
        if missing:
            out.append(
                f"{name} inputs unavailable for {len(missing)} of {len(decisions)} decisions "
                f"(first at {missing[0].at:%Y-%m-%d %H:%M}); that analyst reported neutral"
            )
    return out
