"""`PortfolioView` of a persistent (ledger) portfolio, valued at the decision price."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from graph.context import PortfolioView, PositionView
from persistence.ledger import load_state
from persistence.ledger_state import equity_marks
from persistence.portfolios import require_portfolio
from tools.portfolio_math import mark
from tools.snapshot import IndicatorSnapshot


def ledger_portfolio_view(
    engine: Engine, portfolio_id: int, name: str, snap: IndicatorSnapshot
) -> PortfolioView:
    """Held symbols other than the analysed one are marked at their last fill price.
    Day-start equity is the last snapshot before UTC midnight (else starting cash); peak equity
    the highest snapshot (at least the starting cash, or now) — compared as Decimals, not as
    SQLite's text."""
    state = load_state(engine, portfolio_id)
    prices = dict(state.last_prices)
    prices[snap.symbol] = Decimal(str(snap.close))
    # The decision price carries its source: a real account is never valued at synthetic prices.
    valuation = mark(state, prices, sources={snap.symbol: snap.source})
    equity = float(valuation.equity)
    with Session(engine) as session:
        # The same day-start and peak the ledger's breakers use (persistence.ledger_state).
        day_start, peak = equity_marks(
            session, require_portfolio(session, portfolio_id), datetime.now(UTC)
        )
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
        day_start_equity=float(day_start),
        peak_equity=max(float(peak), equity),
    )
