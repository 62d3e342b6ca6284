"""Every code risk limit, each with a proposal that violates it."""

from __future__ import annotations

import pytest
from graph_fakes import NOW, hours, snapshot

from core.risk import RiskLimits
from graph.context import PortfolioView, PositionView
from graph.risk_gate import clamp_decision
from graph.schemas import RiskReview, TradeProposal

LIMITS = RiskLimits(
    max_position_pct=10,
    max_total_exposure_pct=30,
    max_stop_distance_pct=5,
    max_daily_loss_pct=3,
    max_drawdown_pct=15,
    min_cash_reserve_pct=20,
    max_data_age_bars=2,
)


def buy(size: float = 5, stop: float | None = 97.0, take: float | None = 106.0) -> TradeProposal:
    return TradeProposal(action="buy", size_pct=size, entry=100, stop_loss=stop, take_profit=take)


def approve(size: float, stop: float | None = None) -> RiskReview:
    return RiskReview(verdict="approve", size_pct=size, stop_loss=stop)


def fresh(**kw: float) -> PortfolioView:
    view = PortfolioView.fresh(10_000)
    return view.model_copy(update=kw)


def clamp(
    proposal: TradeProposal,
    review: RiskReview,
    portfolio: PortfolioView | None = None,
    now=NOW,
    snap=None,
):  # type: ignore[no-untyped-def]
    return clamp_decision(
        proposal, review, snap or snapshot(), portfolio or fresh(), LIMITS, now=now, fee_rate=0.001
    )


def test_within_limits_is_approved_unchanged() -> None:
    d = clamp(buy(5), approve(5))
    assert d.approved and d.action == "buy" and d.size_pct == 5 and d.stop_loss == 97.0
    assert not d.clamped


def test_position_limit_cuts_size() -> None:
    d = clamp(buy(40), approve(40))
    # up to (1 − POSITION_HEADROOM) of the limit, after the fee has lowered the equity
    assert d.approved and d.size_pct == pytest.approx(10 * 0.999, abs=2e-3)
    assert d.size_pct <= 10 * 0.999
    assert any("position limit" in r for r in d.reasons)


def test_position_limit_counts_existing_position() -> None:
    held = fresh(
        cash=9_200.0,
        positions={"BTCUSDT": PositionView(quantity=8, market_value=800, avg_entry_price=100)},
    )
    d = clamp(buy(10), approve(10), held)
    assert d.size_pct == pytest.approx(1.99, abs=2e-3)


def test_total_exposure_limit() -> None:
    others = {"ETHUSDT": PositionView(quantity=1, market_value=2_800, avg_entry_price=2_800)}
    d = clamp(buy(10), approve(10), fresh(cash=7_200.0, positions=others))
    assert d.size_pct == pytest.approx(2, abs=1e-3)
    assert any("total exposure" in r for r in d.reasons)


def test_exposure_full_rejects() -> None:
    others = {"ETHUSDT": PositionView(quantity=1, market_value=3_000, avg_entry_price=3_000)}
    d = clamp(buy(10), approve(10), fresh(cash=7_000.0, positions=others))
    assert not d.approved and d.size_pct == 0


def test_cash_reserve_limit_includes_fees() -> None:
    # equity 10k, cash 2.5k, reserve 20%: after the buy, cash ≥ 20% of the equity that is left
    # once the fee is paid: 2500 − n·1.001 ≥ 0.2·(10000 − n·0.001) → n ≤ 500 / 1.0008.
    other = {"ETHUSDT": PositionView(quantity=1, market_value=7_500, avg_entry_price=7_500)}
    lax = LIMITS.model_copy(update={"max_total_exposure_pct": 100})
    d = clamp_decision(
        buy(10), approve(10), snapshot(), fresh(cash=2_500.0, positions=other), lax, now=NOW
    )
    assert d.approved
    notional = d.size_pct * 100
    assert 2_500 - notional * 1.001 >= 0.2 * (10_000 - notional * 0.001) - 1e-9
    assert notional == pytest.approx(500 / 1.0008, abs=0.01)
    assert any("cash reserve" in r for r in d.reasons)


def test_missing_stop_is_placed_at_max_distance() -> None:
    d = clamp(buy(5, stop=None), approve(5))
    assert d.approved and d.stop_loss == pytest.approx(95.0)
    assert d.clamped


def test_too_distant_stop_is_moved_to_max_distance() -> None:
    d = clamp(buy(5, stop=80.0), approve(5))
    assert d.stop_loss == pytest.approx(95.0)
    assert any("moved" in r for r in d.reasons)


def test_stop_above_entry_rejects() -> None:
    d = clamp(buy(5, stop=101.0), approve(5))
    assert not d.approved


def test_risk_manager_may_tighten_but_not_loosen_the_stop() -> None:
    assert clamp(buy(5, stop=96.0), approve(5, stop=98.0)).stop_loss == 98.0
    assert clamp(buy(5, stop=96.0), approve(5, stop=90.0)).stop_loss == 96.0


def test_daily_loss_breaker_blocks_buys_not_sells() -> None:
    down = fresh(equity=9_650.0, cash=9_650.0, day_start_equity=10_000.0)
    assert not clamp(buy(5), approve(5), down).approved
    held = down.model_copy(
        update={
            "cash": 9_000.0,
            "positions": {
                "BTCUSDT": PositionView(quantity=6.5, market_value=650, avg_entry_price=110)
            },
        }
    )
    sell = TradeProposal(action="sell", size_pct=100)
    assert clamp(sell, approve(100), held).approved


def test_drawdown_breaker() -> None:
    dd = fresh(equity=8_400.0, cash=8_400.0, day_start_equity=8_400.0, peak_equity=10_000.0)
    d = clamp(buy(5), approve(5), dd)
    assert not d.approved and "drawdown" in d.reasons[0]


def test_stale_data_blocks_trading() -> None:
    old = snapshot(as_of=NOW - hours(3))
    d = clamp(buy(5), approve(5), snap=old)
    assert not d.approved and "stale" in d.reasons[0]
    fresh_enough = snapshot(as_of=NOW - hours(2))
    assert clamp(buy(5), approve(5), snap=fresh_enough).approved


def test_risk_manager_cannot_enlarge_and_reject_wins() -> None:
    d = clamp(buy(3), approve(100))
    assert d.size_pct == 3 and d.clamped
    r = clamp(buy(3), RiskReview(verdict="reject", size_pct=0, reasons=["no"]))
    assert not r.approved and r.size_pct == 0


def test_sell_without_position_rejected() -> None:
    d = clamp(TradeProposal(action="sell", size_pct=50), approve(50))
    assert not d.approved and "no BTCUSDT position" in d.reasons[-1]
