"""The code risk clamp between the LLM risk manager and execution.

Whatever any model says, the order that reaches `execute` satisfies `core.risk.RiskLimits` as
far as this view of the portfolio can tell. It is a pre-check that informs the desk: the ledger
re-enforces the same limits (the same `core.risk` maths) under the portfolio lock on the fresh
state, where concurrent runs are serialised (`persistence.ledger.execute_order`).
- the risk manager can only shrink a proposal or reject it (a larger size is ignored; its stop
  is used only when tighter);
- stale data (latest bar older than `max_data_age_bars` intervals vs `now`) → no trade;
- buys: daily-loss and drawdown circuit breakers block new buys; the stop-loss is mandatory and
  within `max_stop_distance_pct` — a missing or too-distant stop is MOVED to the max distance
  (a tighter stop only reduces risk, so we place one rather than reject a good signal); a stop at
  or above entry is nonsense and rejects the order; size is cut to fit the position limit, the
  total-exposure limit and the cash reserve (fees and slippage included); under 0.1% of equity
  → rejected;
- sells (spot, no shorting) need a held position and sell at most 100% of it; they are always
  allowed by the circuit breakers, because selling reduces risk.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.risk import AccountFigures, RiskLimits, breaker_tripped, buy_room, stop_floor
from graph.context import PortfolioView
from graph.schemas import FinalDecision, RiskReview, TradeProposal
from tools.intervals import interval_ms
from tools.snapshot import IndicatorSnapshot

MIN_TRADE_PCT = 0.1


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def _reject(proposal: TradeProposal, reasons: list[str]) -> FinalDecision:
    return FinalDecision(
        action=proposal.action, size_pct=0, approved=False, reasons=reasons, clamped=True
    )


def is_stale(snap: IndicatorSnapshot, limits: RiskLimits, now: datetime) -> bool:
    age = now - snap.as_of
    return age > timedelta(milliseconds=interval_ms(snap.interval) * limits.max_data_age_bars)


def _stale_reason(snap: IndicatorSnapshot, limits: RiskLimits, now: datetime) -> str:
    return (
        f"stale data: the latest bar opened {snap.as_of:%Y-%m-%d %H:%M} UTC, more than "
        f"{limits.max_data_age_bars} × {snap.interval} before {now:%Y-%m-%d %H:%M} UTC"
    )


def clamp_decision(
    proposal: TradeProposal | None,
    review: RiskReview | None,
    snap: IndicatorSnapshot,
    portfolio: PortfolioView,
    limits: RiskLimits,
    *,
    now: datetime | None = None,
    fee_rate: float = 0.001,
    slippage_bps: float = 0.0,
) -> FinalDecision:
    now = now or datetime.now(UTC)
    stale = is_stale(snap, limits, now)
    if proposal is None or proposal.action == "hold" or proposal.size_pct <= 0:
        # A hold on stale data still says why nothing could have been traded.
        why = ["hold", _stale_reason(snap, limits, now)] if stale else ["hold"]
        return FinalDecision(action="hold", size_pct=0, approved=True, reasons=why)
    if stale:
        return _reject(proposal, [_stale_reason(snap, limits, now)])
    if review is None or review.verdict == "reject":
        why = review.reasons if review else ["no risk review"]
        return _reject(proposal, ["risk manager rejected: " + "; ".join(why)])

    reasons: list[str] = [f"risk manager: {r}" for r in review.reasons]
    clamped = False
    size = proposal.size_pct
    if review.size_pct > proposal.size_pct:
        reasons.append(
            f"risk manager asked for {review.size_pct:.2f}% > proposed {size:.2f}%: ignored "
            "(it may only shrink)"
        )
        clamped = True
    else:
        size = review.size_pct

    if proposal.action == "sell":
        if portfolio.position_value(snap.symbol) <= 0:
            return _reject(proposal, [*reasons, f"no {snap.symbol} position to sell (spot only)"])
        return FinalDecision(
            action="sell",
            size_pct=min(size, 100.0),
            entry=snap.close,
            approved=size > 0,
            reasons=reasons if size > 0 else [*reasons, "size 0"],
            clamped=clamped,
        )

    # --- buy ------------------------------------------------------------------------------
    equity = portfolio.equity
    breaker = breaker_tripped(
        limits,
        equity=_dec(equity),
        day_start_equity=_dec(portfolio.day_start_equity),
        peak_equity=_dec(portfolio.peak_equity),
    )
    if breaker is not None:
        return _reject(proposal, [breaker])

    entry = snap.close
    floor = float(stop_floor(limits, _dec(entry)))
    stop = proposal.stop_loss
    if review.stop_loss is not None and (stop is None or review.stop_loss > stop):
        stop = review.stop_loss  # tighter stop from the risk manager
    if stop is None:
        stop = floor
        reasons.append(f"no stop-loss: placed at the max distance {limits.max_stop_distance_pct}%")
        clamped = True
    elif stop >= entry:
        return _reject(proposal, [*reasons, f"stop-loss {stop} is not below entry {entry}"])
    elif stop < floor:
        reasons.append(
            f"stop-loss {stop:.2f} is {(entry - stop) / entry * 100:.2f}% away > "
            f"{limits.max_stop_distance_pct}%: moved to {floor:.2f}"
        )
        stop = floor
        clamped = True
    take = review.take_profit or proposal.take_profit
    if take is not None and take <= entry:
        reasons.append(f"take-profit {take} not above entry: dropped")
        take = None

    account = AccountFigures(
        equity=_dec(equity),
        cash=_dec(portfolio.cash),
        position_value=_dec(portfolio.position_value(snap.symbol)),
        exposure=_dec(portfolio.exposure),
        largest_other=_dec(
            max(
                (p.market_value for s, p in portfolio.positions.items() if s != snap.symbol),
                default=0.0,
            )
        ),
    )
    cost_rate = (1 + _dec(slippage_bps) / 10_000) * (1 + _dec(fee_rate)) - 1
    caps = {
        name: float(room / account.equity * 100)
        for name, room in buy_room(limits, account, cost_rate=cost_rate).items()
    }
    for name, cap in caps.items():
        if size > cap:
            # 4 decimals: the trader often sizes to the room left, and a cut of a hair would
            # otherwise read "1.19% cut to 1.19%".
            reasons.append(f"size {size:.4f}% cut to {max(cap, 0):.4f}% by the {name}")
            size = max(cap, 0.0)
            clamped = True
    if size < MIN_TRADE_PCT:
        return _reject(proposal, [*reasons, f"no room: size {size:.2f}% < {MIN_TRADE_PCT}%"])
    return FinalDecision(
        action="buy",
        size_pct=math.floor(size * 10_000) / 10_000,  # round down: never above a cap
        entry=entry,
        stop_loss=stop,
        take_profit=take,
        approved=True,
        reasons=reasons,
        clamped=clamped,
    )
