"""One market per portfolio: synthetic fills only into a synthetic portfolio, marks only from
the portfolio's own market; a mixed-source mark raises, never a number (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from graph.portfolio_view import ledger_portfolio_view
from persistence.candles import store_candles
from persistence.ledger import LedgerExecutor, execute_order, value_portfolio
from persistence.models import Trade
from persistence.portfolios import PortfolioError, create_portfolio, ensure_default_portfolio
from tools.orders import OrderRequest
from tools.portfolio_math import MixedSourceError, PortfolioState, apply_fill, mark
from tools.provenance import market_kind
from tools.snapshot import IndicatorSnapshot

AT = datetime(2024, 1, 1, tzinfo=UTC)
BUY = OrderRequest(symbol="BTCUSDT", side="buy", size_pct_equity=Decimal("10"))


def trades(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Trade)).scalar_one())


def test_source_kinds() -> None:
    assert {market_kind(s) for s in ("binance", "store", "store-resampled", "import")} == {"real"}
    assert market_kind("synthetic") == "synthetic"
    with pytest.raises(ValueError, match="unknown price source"):
        market_kind("made-up")


def test_a_mixed_source_mark_raises_never_a_number() -> None:
    from tools.orders import Fill

    fill = Fill(
        symbol="BTCUSDT",
        side="buy",
        quantity=Decimal("0.1"),
        price=Decimal("28030"),
        fee=Decimal("2.803"),
        slippage_bps=Decimal("5"),
        reason="signal",
        executed_at=AT,
        client_order_id="x",
    )
    state = apply_fill(PortfolioState.start(Decimal(10_000), market="synthetic"), fill)
    with pytest.raises(MixedSourceError, match="real source \\(store\\)"):
        mark(state, {"BTCUSDT": Decimal("64893.5")}, sources={"BTCUSDT": "store"})
    same = mark(state, {"BTCUSDT": Decimal("28100")}, sources={"BTCUSDT": "synthetic"})
    assert same.positions[0].mark_price == Decimal("28100")


def test_real_portfolio_refuses_a_synthetic_fill(engine: Engine) -> None:
    real = create_portfolio(engine, "real", Decimal(10_000))
    assert real.kind == "real"
    with pytest.raises(MixedSourceError, match="portfolio 'real' is real"):
        execute_order(
            engine,
            real.id,
            BUY,
            client_order_id="a",
            price=Decimal(28_030),
            at=AT,
            price_source="synthetic",
        )
    assert trades(engine) == 0
    executor = LedgerExecutor(engine, real.id)
    filled = executor.execute(BUY, run_id="r1", price=Decimal(42_000), at=AT, source="store")
    assert filled is not None and trades(engine) == 1


def test_synthetic_portfolio_takes_synthetic_fills_only(engine: Engine) -> None:
    play = create_portfolio(engine, "play", Decimal(10_000), kind="synthetic")
    assert play.kind == "synthetic"
    with pytest.raises(MixedSourceError):
        execute_order(
            engine,
            play.id,
            BUY,
            client_order_id="a",
            price=Decimal(42_000),
            at=AT,
            price_source="binance",
        )
    fill = execute_order(
        engine,
        play.id,
        BUY,
        client_order_id="b",
        price=Decimal(28_030),
        at=AT,
        price_source="synthetic",
    )
    assert fill is not None
    with pytest.raises(PortfolioError, match="kind"):
        create_portfolio(engine, "odd", Decimal(1), kind="paper")


def test_marks_come_from_the_portfolios_own_market(engine: Engine) -> None:
    """The issue: bought at a synthetic 28,030, marked at the real 64,893 → a fake +7 %."""
    hour = 3_600_000
    t0 = 1_704_067_200_000

    def candles(close: float, start: int) -> pd.DataFrame:
        times = t0 + hour * np.arange(start, start + 3, dtype="int64")
        return pd.DataFrame(
            {
                "open_time": times,
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": 1.0,
            }
        )

    store_candles(engine, "BTCUSDT", "1h", candles(64_893.5, 0), source="import", now=t0 * 2)
    store_candles(engine, "BTCUSDT", "4h", candles(28_209.0, 10), source="synthetic", now=t0 * 2)
    real = create_portfolio(engine, "real", Decimal(10_000))
    play = create_portfolio(engine, "play", Decimal(10_000), kind="synthetic")
    execute_order(
        engine,
        real.id,
        BUY,
        client_order_id="r",
        price=Decimal(64_000),
        at=AT,
        price_source="store",
    )
    execute_order(
        engine,
        play.id,
        BUY,
        client_order_id="s",
        price=Decimal(28_030),
        at=AT,
        price_source="synthetic",
    )
    real_marked = value_portfolio(engine, real.id)
    play_marked = value_portfolio(engine, play.id)
    assert real_marked.marks["BTCUSDT"].price == Decimal("64893.5")  # newer synthetic ignored
    assert play_marked.marks["BTCUSDT"].price == Decimal("28209.0")
    assert (real_marked.marks["BTCUSDT"].market, play_marked.marks["BTCUSDT"].market) == (
        "real",
        "synthetic",
    )


def test_a_real_account_is_not_valued_at_a_synthetic_snapshot(engine: Engine) -> None:
    real = create_portfolio(engine, "real", Decimal(10_000))
    execute_order(
        engine,
        real.id,
        BUY,
        client_order_id="r",
        price=Decimal(64_000),
        at=AT,
        price_source="store",
    )
    fields = {
        name: 1.0
        for name, f in IndicatorSnapshot.model_fields.items()
        if f.annotation in (float, "float")
    }
    fields["close"] = 28_030.0
    snap = IndicatorSnapshot.model_construct(
        **fields, symbol="BTCUSDT", interval="4h", as_of=AT, source="synthetic"
    )
    with pytest.raises(MixedSourceError):
        ledger_portfolio_view(engine, real.id, "real", snap)


def test_default_portfolio_follows_the_data_source(sqlite_engine: Engine) -> None:
    from core.settings import Settings

    real = ensure_default_portfolio(sqlite_engine, Settings(data_source="store", _env_file=None))  # type: ignore[arg-type]
    play = ensure_default_portfolio(
        sqlite_engine,
        Settings(data_source="synthetic", _env_file=None),  # type: ignore[arg-type]
    )
    assert (real.kind, play.kind) == ("real", "synthetic")
    assert play.name == f"{real.name}-synthetic"


def test_a_synthetic_portfolio_asks_for_synthetic_candles(sqlite_engine: Engine) -> None:
    from core.settings import Settings
    from graph.context import SourceChainMarketData
    from graph.runner import build_context

    settings = Settings(data_source="store", llm_provider="rules", _env_file=None)  # type: ignore[arg-type]
    play = create_portfolio(sqlite_engine, "play", Decimal(10_000), kind="synthetic")
    real = create_portfolio(sqlite_engine, "real", Decimal(10_000))
    ctx = build_context(settings, sqlite_engine, "r1", portfolio_id=play.id, execute=True)
    assert isinstance(ctx.market_data, SourceChainMarketData) and ctx.market_data.synthetic
    snap = ctx.market_data.snapshot("BTCUSDT", "1h")  # nothing stored: synthetic, as asked
    assert snap.source == "synthetic"
    other = build_context(settings, sqlite_engine, "r2", portfolio_id=real.id, execute=True)
    assert isinstance(other.market_data, SourceChainMarketData)
    assert not other.market_data.synthetic
