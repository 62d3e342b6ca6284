"""A session's cost cap holds for the whole watchlist: its symbols' desks draw on ONE run
budget (one guard per symbol would let a two-symbol session spend twice the cap)."""

from __future__ import annotations

from conftest import RealDb
from session_helpers import utc

from core.risk import RiskLimits
from sessions.desk import close_all, session_deciders
from sessions.schemas import SessionSpec


def test_the_watchlist_draws_on_one_run_budget(real_db: RealDb) -> None:
    spec = SessionSpec(symbols=["BTCUSDT", "ETHUSDT"], replay_from=utc("2023-06-01"), rules=True)
    deciders = session_deciders(
        spec,
        session_id="s-budget",
        settings=real_db.settings,
        db=real_db.engine,
        limits=RiskLimits(),
    )
    try:
        guards = {id(d.ctx.budget) for d in deciders.values()}
        assert len(deciders) == 2 and len(guards) == 1
        budget = deciders["BTCUSDT"].ctx.budget
        assert budget is not None and budget.run_limit_usd == real_db.settings.backtest_cost_cap_usd
    finally:
        close_all(deciders)
