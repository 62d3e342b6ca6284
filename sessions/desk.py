"""The desk as a session decides with it: one `GraphDecider` per watchlist symbol.

Each symbol gets its own `DeskContext` (its own portfolio view, decision time and input
recorder), so the symbols of a bar are decided in parallel (`asyncio.gather`) on one event
loop. The graph is the compiled, checkpointer-free `graph.graph.graph`, handed the
precomputed bar-t snapshot like a backtest's decider; the decision time `ctx.now` is the bar's
close, the inputs are point in time (replay) or the settings' providers (live). A backtest of
the same bars builds its decider the same way (`GraphDecider.for_backtest` with the same
settings and limits), which is what makes a session and its backtest comparable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from core.risk import RiskLimits
from core.settings import Settings
from graph.backtest.desk import BACKTEST_RUN_TOKENS, GraphDecider, _NoMarketData
from graph.budget import BudgetGuard
from graph.context import DeskContext, PortfolioView, PositionView
from graph.prepare import point_in_time_providers
from sessions.schemas import SessionSpec
from tools.portfolio_math import PortfolioState

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from graph.models import ModelClient


def desk_settings(settings: Settings, spec: SessionSpec) -> Settings:
    """The settings the desk's risk gate sizes with: the session's fee and slippage."""
    return settings.model_copy(
        update={
            "fee_rate": Decimal(str(spec.fee_rate)),
            "slippage_bps": Decimal(str(spec.slippage_bps)),
        }
    )


def session_deciders(
    spec: SessionSpec,
    *,
    session_id: str,
    settings: Settings,
    db: Engine,
    limits: RiskLimits,
    model_client: ModelClient | None = None,
    stream_tokens: bool = False,
) -> dict[str, GraphDecider]:
    """One decider per watchlist symbol. `spec.rules` → the offline rules engine."""
    desk = desk_settings(settings, spec)
    if spec.rules:
        from graph.rules_engine import RulesModelClient

        model_client = RulesModelClient()
    # One run budget for the whole watchlist: the session's cost cap, not one cap per symbol.
    budget = BudgetGuard(
        desk,
        db,
        run_usd=desk.backtest_cost_cap_usd,
        run_tokens=BACKTEST_RUN_TOKENS,
        run_id=session_id,
    )
    deciders: dict[str, GraphDecider] = {}
    for symbol in spec.symbols:
        sentiment, tokenomics = (
            point_in_time_providers(desk, db) if spec.replay_from is not None else (None, None)
        )
        ctx = DeskContext(
            settings=desk,
            model_client=model_client,
            market_data=_NoMarketData(),
            sentiment=sentiment,
            tokenomics=tokenomics,
            portfolio=PortfolioView.fresh(spec.starting_cash or desk.default_starting_cash),
            risk_limits=limits,
            executor=None,
            stream_tokens=stream_tokens,
            engine=db,
            run_id=session_id,
            budget=budget,
        )
        deciders[symbol] = GraphDecider(ctx, symbol=symbol, interval=spec.interval)
    return deciders


def portfolio_view(
    state: PortfolioState,
    closes: dict[str, float],
    *,
    day_start_equity: float,
    peak_equity: float,
) -> PortfolioView:
    """The account at a bar's close as the desk sees it, computed the way a backtest's account
    view is (float cash + Σ quantity × close), so one symbol gives the same numbers."""
    positions: dict[str, PositionView] = {}
    equity = float(state.cash)
    for symbol, position in state.positions.items():
        qty = float(position.quantity)
        if qty <= 0:
            continue
        close = closes.get(symbol, float(state.last_prices.get(symbol, position.avg_entry_price)))
        value = qty * close
        equity += value
        positions[symbol] = PositionView(
            quantity=qty, market_value=value, avg_entry_price=float(position.avg_entry_price)
        )
    return PortfolioView(
        name="backtest",  # the desk's prompts see the same account name as in a backtest
        equity=equity,
        cash=float(state.cash),
        positions=positions,
        day_start_equity=day_start_equity,
        peak_equity=peak_equity,
    )


def close_all(deciders: dict[str, GraphDecider]) -> None:
    for decider in deciders.values():
        decider.close()
