"""SQLAlchemy 2 typed models: the whole schema of the firm.

Ledger amounts use `ExactDecimal` (see `persistence.types` for the money policy). Candle open
times are epoch milliseconds, Binance's own unit, so they compare exactly on both backends.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from persistence.types import ExactDecimal, UTCDateTime, utcnow

MONEY = ExactDecimal(28, 10)
QUANTITY = ExactDecimal(28, 12)
USD_COST = ExactDecimal(18, 8)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Candle(Base):
    """One OHLCV bar. `(symbol, interval, open_time)` is the natural key for idempotent upserts."""

    __tablename__ = "candles"
    __table_args__ = (
        UniqueConstraint("symbol", "interval", "open_time", name="uq_candles_key"),
        CheckConstraint("volume >= 0", name="ck_candles_volume"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20))
    interval: Mapped[str] = mapped_column(String(4))
    open_time: Mapped[int] = mapped_column(BigInteger, doc="epoch ms, UTC, candle open")
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), doc="binance | import | synthetic (row origin)")


class Portfolio(Base):
    """A simulated account. `risk` holds the per-portfolio risk limits (validated in code).
    `kind` is the market its fills come from: a real portfolio never takes a synthetic fill,
    nor is it marked with synthetic prices (and the other way round)."""

    __tablename__ = "portfolios"
    __table_args__ = (CheckConstraint("kind IN ('real', 'synthetic')", name="ck_portfolios_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    base_currency: Mapped[str] = mapped_column(String(10), default="USDT")
    starting_cash: Mapped[Decimal] = mapped_column(MONEY)
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    risk: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(
        String(10), default="real", server_default="real", doc="real | synthetic market"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Trade(Base):
    """The ledger. Cash, positions and P&L are all derived from these rows.

    `client_order_id` makes every fill idempotent: an analysis run fills as `run:<run_id>`,
    a protective exit as `sl:<entry trade id>` / `tp:<entry trade id>`.
    """

    __tablename__ = "trades"
    __table_args__ = (
        UniqueConstraint("portfolio_id", "client_order_id", name="uq_trades_client_order"),
        CheckConstraint("quantity > 0", name="ck_trades_quantity"),
        CheckConstraint("side IN ('buy', 'sell')", name="ck_trades_side"),
        Index("ix_trades_portfolio_time", "portfolio_id", "executed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_order_id: Mapped[str] = mapped_column(String(80))
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    price: Mapped[Decimal] = mapped_column(MONEY, doc="fill price after slippage")
    fee: Mapped[Decimal] = mapped_column(MONEY, doc="fee in the quote currency")
    slippage_bps: Mapped[Decimal] = mapped_column(ExactDecimal(12, 4))
    reason: Mapped[str] = mapped_column(String(20), doc="signal | stop_loss | take_profit | manual")
    stop_loss: Mapped[Decimal | None] = mapped_column(MONEY)
    take_profit: Mapped[Decimal | None] = mapped_column(MONEY)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Position(Base):
    """Cached open position; always reconcilable with the ledger."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("portfolio_id", "symbol", name="uq_positions_symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    avg_entry_price: Mapped[Decimal] = mapped_column(MONEY)
    stop_loss: Mapped[Decimal | None] = mapped_column(MONEY)
    take_profit: Mapped[Decimal | None] = mapped_column(MONEY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PortfolioSnapshot(Base):
    """Equity at a point in time, written after every fill and on demand."""

    __tablename__ = "portfolio_snapshots"
    __table_args__ = (Index("ix_snapshots_portfolio_time", "portfolio_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cash: Mapped[Decimal] = mapped_column(MONEY)
    positions_value: Mapped[Decimal] = mapped_column(MONEY)
    equity: Mapped[Decimal] = mapped_column(MONEY)
    realized_pnl: Mapped[Decimal] = mapped_column(MONEY)
    unrealized_pnl: Mapped[Decimal] = mapped_column(MONEY)
    fees_paid: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(String(20), default="fill")


class Run(Base):
    """An analysis or backtest run; its id is also the LangGraph thread id."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_kind_created", "kind", "created_at"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), doc="analysis | backtest | session")
    status: Mapped[str] = mapped_column(
        String(20),
        doc="pending | running | paused | completed | failed | cancelled | budget_exceeded",
    )
    symbol: Mapped[str] = mapped_column(String(20))
    interval: Mapped[str] = mapped_column(String(4))
    portfolio_id: Mapped[int | None] = mapped_column(ForeignKey("portfolios.id"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, doc="engine cursor for resuming a backtest after a crash"
    )
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(
        BigInteger, doc="the queue job executing it now (firm.jobs); None before it is enqueued"
    )
    worker: Mapped[str | None] = mapped_column(
        String(120), doc="host:pid of the worker that last took it"
    )
    recoveries: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", doc="times a job resumed it after a dead worker"
    )
    model: Mapped[str | None] = mapped_column(String(120))
    data_source: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RunEvent(Base):
    """Every streamed event of a run, persisted so SSE clients can resume by `Last-Event-ID`."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_events_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AgentLog(Base):
    """One model call (or cache hit) with its tokens, cost and latency."""

    __tablename__ = "agent_logs"
    __table_args__ = (Index("ix_agent_logs_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    agent: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(120))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(USD_COST, default=Decimal(0))
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    raw_output: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LLMCacheEntry(Base):
    """Answer cache keyed by model + prompt hash: re-running a backtest makes no model calls."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True, doc="sha256(model + prompt)")
    model: Mapped[str] = mapped_column(String(120))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BacktestResult(Base):
    """Final (or partial) outcome of a backtest run."""

    __tablename__ = "backtest_results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    baselines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decision_spread: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    equity_curve: Mapped[list[Any]] = mapped_column(JSON, default=list)
    trades: Mapped[list[Any]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HeadlineRow(Base):
    """A dated news headline, shown to a decision only from `available_at` (point in time).
    `currencies` is stored pipe-delimited with pipes at both ends (`|BTC|ETH|`), so a match on
    `|BTC|` is exact; `key` (sha256 of time, source and title) makes re-imports idempotent."""

    __tablename__ = "headlines"
    __table_args__ = (Index("ix_headlines_available", "available_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(120))
    currencies: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SessionBar(Base):
    """One trading-session decision: exactly one row per (session, symbol, decision bar).

    The unique key is what makes a session exactly-once: a restarted session finds the row
    and reuses its decision instead of deciding again. `order_request` is the order the
    decision asks for (None for a hold or a refused decision); `status` follows it through
    approval and the fill (`sessions.schemas.SessionDecisionRow.status`)."""

    __tablename__ = "session_bars"
    __table_args__ = (
        UniqueConstraint("session_id", "symbol", "bar_ms", name="uq_session_bars_key"),
        Index("ix_session_bars_status", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(20))
    bar_ms: Mapped[int] = mapped_column(BigInteger, doc="open time of the decision bar, epoch ms")
    decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    order_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(4))
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    size_pct: Mapped[float] = mapped_column(Float, default=0.0)
    stop_loss: Mapped[float | None] = mapped_column(Float)
    take_profit: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    trade_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SessionTick(Base):
    """One processed bar of a trading session: the equity curve, and the marker that the bar
    is done (a restarted session continues after the newest tick)."""

    __tablename__ = "session_ticks"
    __table_args__ = (UniqueConstraint("session_id", "bar_ms", name="uq_session_ticks_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    bar_ms: Mapped[int] = mapped_column(BigInteger, doc="open time of the bar, epoch ms")
    equity: Mapped[Decimal] = mapped_column(MONEY)
    cash: Mapped[Decimal] = mapped_column(MONEY)
    exposure_pct: Mapped[float] = mapped_column(Float)
    drawdown_pct: Mapped[float] = mapped_column(Float)
    positions: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, doc="symbol → percent of equity held at the bar's close"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
