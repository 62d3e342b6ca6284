"""`PortfolioView` of a persistent (ledger) portfolio, valued at the decision price."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from sqlalchemy import Engine, func, select

from graph.context import PortfolioView, PositionView
from persistence.ledger import load_state
from persistence.models import PortfolioSnapshot
from tools.portfolio_math import mark
from tools.snapshot import IndicatorSnapshot


def ledger_portfolio_view(
    engine: Engine, portfolio_id: int, name: str, snap: IndicatorSnapshot
) -> PortfolioView:
    """Held symbols other than the analysed one are marked at their last fill price.
    Day-start equity is the last snapshot before UTC midnight (else starting cash); peak equity
    the highest snapshot (or starting cash, or now)."""
    state = load_state(engine, portfolio_id)
    prices = dict(state.last_prices)
    prices[snap.symbol] = Decimal(str(snap.close))
    # The decision price carries its source: a real account is never valued at synthetic prices.
    valuation = mark(state, prices, sources={snap.symbol: snap.source})
    equity = float(valuation.equity)
    midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    with engine.connect() as conn:
        day_start = conn.execute(
            select(PortfolioSnapshot.equity)
            .where(
                PortfolioSnapshot.portfolio_id == portfolio_id,
                PortfolioSnapshot.taken_at < midnight,
            )
            .order_by(PortfolioSnapshot.taken_at.desc())
            .limit(1)
        ).scalar()
        peak = conn.execute(
            select(func.max(PortfolioSnapshot.equity)).where(
                PortfolioSnapshot.portfolio_id == portfolio_id
            )
        ).scalar()
    starting = float(state.starting_cash)
    return PortfolioView(
        portfolio_id=portfolio_id,
        name=name,
        equity=equity,
        cash=float(valuation.cash),
        positions={
            p.symbol: PositionView(
                quantity=float(p.quantity),
                market_value=float(p.market_value),
                avg_entry_price=float(p.avg_entry_price),
            )
            for p in valuation.positions
        },
        day_start_equity=float(day_start) if day_start is not None else starting,
        peak_equity=max(float(peak) if peak is not None else starting, starting, equity),
    )
