"""Per-portfolio risk limits. Enforced in code: a model can only ever tighten them.

Stored as JSON in `portfolios.risk`; validated here on every read. The limit maths below is the
one the desk's risk gate pre-checks with and the ledger enforces, under the portfolio lock, on
the fresh state (`persistence.ledger.execute_order`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.bounds import JSON_NUMBER


class RiskLimits(BaseModel):
    """Percentages are JSON numbers (a string is refused); ints may be sent as 5 or 5.0."""

    model_config = ConfigDict(extra="forbid")

    max_position_pct: float = Field(
        strict=True, default=10.0, gt=0, le=100, description="largest single position, % of equity"
    )
    max_total_exposure_pct: float = Field(
        strict=True, default=50.0, gt=0, le=100, description="all positions together, % of equity"
    )
    max_stop_distance_pct: float = Field(
        strict=True,
        default=5.0,
        gt=0,
        le=50,
        description="stop-loss at most this far below entry, %",
    )
    max_daily_loss_pct: float = Field(
        strict=True,
        default=3.0,
        gt=0,
        le=100,
        description="circuit breaker: loss since UTC midnight, %",
    )
    max_drawdown_pct: float = Field(
        strict=True,
        default=15.0,
        gt=0,
        le=100,
        description="circuit breaker: drop from peak equity, %",
    )
    min_cash_reserve_pct: float = Field(
        strict=True,
        default=20.0,
        ge=0,
        lt=100,
        description="cash that must stay uninvested, % of equity",
    )
    max_data_age_bars: Annotated[int, JSON_NUMBER] = Field(
        default=2,
        ge=1,
        le=1_000_000,
        description="refuse to trade when the latest bar is older than this many bars",
    )


# --- the limit maths, shared by the desk's risk gate (a pre-check) and the ledger (the authority)

HUNDRED = Decimal(100)


class AccountFigures(BaseModel):
    """What the limits are measured on, all valued at one set of marks (the order's symbol at
    its reference price). `position_value` is the order's symbol; `exposure` all positions."""

    model_config = ConfigDict(frozen=True)

    equity: Decimal
    cash: Decimal
    position_value: Decimal
    exposure: Decimal
    largest_other: Decimal = Field(
        default=Decimal(0), description="the largest position in any other symbol"
    )


OTHER_HOLDING = "position limit of another holding"
POSITION_HEADROOM = Decimal("0.001")
"""A buy fills its position up to (1 − this) of the position limit: every later trade's costs
lower the equity a little and so raise each position's share; the headroom lets about
headroom / cost-rate of equity (≈ 0.67 × equity at 15 bps) trade before an untouched position
would reach its limit — and the "other holdings" room stops any buy that would push one over."""


def buy_room(
    limits: RiskLimits, account: AccountFigures, *, cost_rate: Decimal = Decimal(0)
) -> dict[str, Decimal]:
    """The largest notional (quantity × reference price) a buy may add under each limit, so
    that AFTER the buy — with equity reduced by its costs — the position, every other position,
    the total exposure and the cash reserve are all still within `limits`. Never negative.

    `cost_rate` is the fill's cost per unit of notional beyond the reference price
    (`(1 + slippage) × (1 + fee_rate) − 1`). With n = q·p the notional bought and c the cost
    rate, equity after = E − n·c and cash after = C − n·(1 + c), hence
        position:        V + n ≤ P'·(E − n·c)   →  n ≤ (P'·E − V) / (1 + P'·c),  P' = P·(1 − h)
        other holdings:  W ≤ P·(E − n·c)        →  n ≤ (E − W/P) / c
        exposure:        X + n ≤ L·(E − n·c)    →  n ≤ (L·E − X) / (1 + L·c)
        reserve:         C − n·(1 + c) ≥ R·(E − n·c)  →  n ≤ (C − R·E) / (1 + c − R·c)
    """
    p = Decimal(str(limits.max_position_pct)) / HUNDRED
    target = p * (1 - POSITION_HEADROOM)
    lim = Decimal(str(limits.max_total_exposure_pct)) / HUNDRED
    r = Decimal(str(limits.min_cash_reserve_pct)) / HUNDRED
    a, c = account, cost_rate
    rooms = {
        "total exposure limit": (lim * a.equity - a.exposure) / (1 + lim * c),
        "cash reserve": (a.cash - r * a.equity) / (1 + c - r * c),
    }
    if p < 1:  # at 100% a position cannot outgrow the equity while cash stays ≥ 0
        rooms["position limit"] = (target * a.equity - a.position_value) / (1 + target * c)
    # A holding already over the limit (its price rose) does not block buys: selling is the
    # remedy, and no buy's cost is what took it there.
    if p < 1 and a.largest_other > 0 and c > 0 and a.largest_other <= p * a.equity:
        rooms[OTHER_HOLDING] = (a.equity - a.largest_other / p) / c
    return {name: max(room, Decimal(0)) for name, room in rooms.items()}


def limit_breaches(limits: RiskLimits, account: AccountFigures) -> dict[str, str]:
    """Which of position, other holdings, exposure and cash reserve `account` violates, by
    limit name (as in `buy_room`) with the figures; empty when none."""
    if account.equity <= 0:
        return {"equity": "equity is not positive"}
    share = {
        "position limit": (account.position_value, limits.max_position_pct),
        OTHER_HOLDING: (account.largest_other, limits.max_position_pct),
        "total exposure limit": (account.exposure, limits.max_total_exposure_pct),
    }
    found = {
        name: f"{name}: {value / account.equity * HUNDRED:.4f}% > {cap}%"
        for name, (value, cap) in share.items()
        if value * HUNDRED > Decimal(str(cap)) * account.equity
    }
    if account.cash * HUNDRED < Decimal(str(limits.min_cash_reserve_pct)) * account.equity:
        found["cash reserve"] = (
            f"cash reserve: {account.cash / account.equity * HUNDRED:.4f}% "
            f"< {limits.min_cash_reserve_pct}%"
        )
    return found


def new_breaches(limits: RiskLimits, before: AccountFigures, after: AccountFigures) -> list[str]:
    """The limits a buy would break: every breach after it, except another holding that was
    already over its limit before (see `buy_room`)."""
    already = limit_breaches(limits, before)
    return [
        message
        for name, message in limit_breaches(limits, after).items()
        if not (name == OTHER_HOLDING and name in already)
    ]


def breaker_tripped(
    limits: RiskLimits, *, equity: Decimal, day_start_equity: Decimal, peak_equity: Decimal
) -> str | None:
    """Why new buys are blocked (daily-loss or drawdown circuit breaker), or None."""
    if day_start_equity > 0:
        daily_loss = (day_start_equity - equity) / day_start_equity * HUNDRED
        if daily_loss >= Decimal(str(limits.max_daily_loss_pct)):
            return (
                f"daily-loss breaker: down {daily_loss:.2f}% today ≥ {limits.max_daily_loss_pct}%"
            )
    if peak_equity > 0:
        drawdown = (peak_equity - equity) / peak_equity * HUNDRED
        if drawdown >= Decimal(str(limits.max_drawdown_pct)):
            return f"drawdown breaker: {drawdown:.2f}% below peak ≥ {limits.max_drawdown_pct}%"
    return None


def stop_floor(limits: RiskLimits, entry: Decimal) -> Decimal:
    """The lowest stop-loss allowed for a buy at `entry`."""
    return entry * (1 - Decimal(str(limits.max_stop_distance_pct)) / HUNDRED)


class OrderSkipped(ValueError):
    """An order the executor did not place for a reason that is no error: a limit left no room,
    nothing is held to sell, the size is below the broker's minimum. The run goes on and
    reports `reason`; nothing was written."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
