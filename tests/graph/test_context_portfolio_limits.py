"""A desk context that names a portfolio by id (no executor injected: Studio, a script calling
the graph in-process) decides within THAT portfolio's risk limits in every node — the risk
gate's clamp included, not only `prepare` which binds it."""

from __future__ import annotations

from decimal import Decimal

from graph_fakes import FakeModelClient, desk_context, fake_settings, state_in

from graph.graph import compile_desk
from persistence.db import make_engine, upgrade
from persistence.portfolios import create_portfolio


async def test_named_portfolio_limits_reach_the_risk_gate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fake_settings(tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    loose = create_portfolio(engine, "loose", Decimal(10_000)).id
    tight = create_portfolio(
        engine, "tight", Decimal(10_000), risk={"max_position_pct": 1.0, "max_data_age_bars": 10**6}
    ).id
    app = compile_desk(None)
    sizes = {}
    for name, pid in (("loose", loose), ("tight", tight)):
        ctx = desk_context(
            FakeModelClient(), settings=settings, portfolio_id=pid, engine=engine, run_id=name
        )
        out = await app.ainvoke(state_in(), context=ctx)  # type: ignore[arg-type]
        decision = out["decision"]
        assert decision.action == "buy" and decision.approved, decision
        sizes[name] = decision.size_pct
    assert sizes["loose"] > 1.0  # the trader's buy fits the default 10% position limit
    assert sizes["tight"] <= 1.0  # clamped to the named portfolio's 1% by the risk gate
    engine.dispose()
