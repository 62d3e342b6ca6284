"""Portfolios: creation (the default one race-safely), risk limits, mark prices.

Each portfolio has its own starting cash, `RiskLimits` (JSON, validated on write and on every
read), `require_approval` flag and market `kind` (real | synthetic, fixed at creation): its
fills and its marks come from that market only. Balances are never stored here: they are
derived from the ledger (`persistence.ledger`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.risk import RiskLimits
from core.settings import Settings, get_settings
from persistence.db import session_scope
from persistence.models import Candle, Portfolio
from tools.errors import FieldValueError
from tools.intervals import INTERVAL_MS
from tools.provenance import MARKET_KINDS, SYNTHETIC_SOURCE, MarketKind


class PortfolioError(FieldValueError):
    """Bad portfolio input or state; `field` names what is wrong."""


class UnknownPortfolioError(PortfolioError):
    pass


class DuplicatePortfolioError(PortfolioError):
    """The name is taken (portfolio names are unique)."""


class PortfolioInfo(BaseModel):
    id: int
    name: str
    base_currency: str
    starting_cash: Decimal
    require_approval: bool
    risk: RiskLimits
    kind: MarketKind
    created_at: datetime


class MarkPrice(BaseModel):
    price: Decimal
    source: Literal["candle", "last_fill"]
    market: MarketKind
    """The market the price belongs to: always the portfolio's own kind."""


def validate_risk(risk: RiskLimits | dict[str, Any] | None, *, where: str) -> RiskLimits:
    if isinstance(risk, RiskLimits):
        return risk
    try:
        return RiskLimits.model_validate(risk or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"]) or "risk"
        raise PortfolioError(f"risk.{loc}", f"{first['msg']} ({where})") from exc


def _info(row: Portfolio) -> PortfolioInfo:
    return PortfolioInfo(
        id=row.id,
        name=row.name,
        base_currency=row.base_currency,
        starting_cash=row.starting_cash,
        require_approval=row.require_approval,
        risk=validate_risk(row.risk, where=f"stored for portfolio {row.name!r}"),
        kind=_kind(row.kind),
        created_at=row.created_at,
    )


def _kind(kind: str) -> MarketKind:
    if kind not in MARKET_KINDS:
        raise PortfolioError("kind", f"must be one of {MARKET_KINDS} (got {kind!r})")
    return kind  # type: ignore[return-value]


def _validate_new(name: str, starting_cash: Decimal) -> None:
    if not name or not name.strip() or len(name) > 64:
        raise PortfolioError("name", "must be 1–64 characters")
    if isinstance(starting_cash, float) or not isinstance(starting_cash, Decimal | int):
        raise PortfolioError("starting_cash", "must be a Decimal amount, never float")
    if not Decimal(starting_cash).is_finite() or starting_cash <= 0:
        raise PortfolioError("starting_cash", f"must be positive (got {starting_cash})")


def create_portfolio(
    engine: Engine,
    name: str,
    starting_cash: Decimal,
    *,
    require_approval: bool = False,
    risk: RiskLimits | dict[str, Any] | None = None,
    base_currency: str = "USDT",
    kind: str = "real",
) -> PortfolioInfo:
    """A new portfolio of one market `kind` (real | synthetic): fixed for its life."""
    _validate_new(name, starting_cash)
    market = _kind(kind)
    limits = validate_risk(risk, where="new portfolio")
    try:
        with session_scope(engine) as session:
            row = Portfolio(
                name=name,
                base_currency=base_currency,
                starting_cash=Decimal(starting_cash),
                require_approval=require_approval,
                risk=limits.model_dump(),
                kind=market,
            )
            session.add(row)
            session.flush()
            return _info(row)
    except IntegrityError as exc:
        raise DuplicatePortfolioError("name", f"a portfolio named {name!r} already exists") from exc


def require_portfolio(
    session: Session, portfolio_id: int, *, for_update: bool = False
) -> Portfolio:
    """The portfolio row, or `UnknownPortfolioError` naming `portfolio_id`."""
    row = session.get(Portfolio, portfolio_id, with_for_update=for_update)
    if row is None:
        raise UnknownPortfolioError("portfolio_id", f"no portfolio with id {portfolio_id}")
    return row


def get_portfolio(engine: Engine, portfolio_id: int) -> PortfolioInfo:
    with session_scope(engine) as session:
        return _info(require_portfolio(session, portfolio_id))


def get_portfolio_by_name(engine: Engine, name: str) -> PortfolioInfo:
    with session_scope(engine) as session:
        row = session.scalar(select(Portfolio).where(Portfolio.name == name))
        if row is None:
            raise UnknownPortfolioError("name", f"no portfolio named {name!r}")
        return _info(row)


def list_portfolios(engine: Engine) -> list[PortfolioInfo]:
    with session_scope(engine) as session:
        return [_info(row) for row in session.scalars(select(Portfolio).order_by(Portfolio.id))]


def update_risk(
    engine: Engine, portfolio_id: int, risk: RiskLimits | dict[str, Any]
) -> PortfolioInfo:
    limits = validate_risk(risk, where="update")
    with session_scope(engine) as session:
        row = require_portfolio(session, portfolio_id)
        row.risk = limits.model_dump()
        session.flush()
        return _info(row)


def default_portfolio_name(settings: Settings, kind: MarketKind) -> str:
    base = settings.default_portfolio_name
    return base if kind == "real" else f"{base}-synthetic"


def ensure_default_portfolio(
    engine: Engine, settings: Settings | None = None, *, kind: MarketKind | None = None
) -> PortfolioInfo:
    """The default portfolio of a market kind (default: synthetic when DATA_SOURCE=synthetic,
    else real), created on first use; the synthetic one is named `<default>-synthetic`. Two
    callers racing both get the same row: the loser's insert hits the unique name and it
    reads the winner's."""
    settings = settings or get_settings()
    if kind is None:
        kind = "synthetic" if settings.data_source.value == SYNTHETIC_SOURCE else "real"
    name = default_portfolio_name(settings, kind)
    try:
        return get_portfolio_by_name(engine, name)
    except UnknownPortfolioError:
        pass
    try:
        return create_portfolio(engine, name, settings.default_starting_cash, kind=kind)
    except DuplicatePortfolioError:
        return get_portfolio_by_name(engine, name)


def latest_candle_closes(
    session: Session,
    symbols: Iterable[str],
    kind: MarketKind = "real",
    *,
    as_of: datetime | None = None,
) -> dict[str, Decimal]:
    """Close of the most recent stored candle (any interval) per symbol, among the candles of
    market `kind` only: a real portfolio is never marked with a stored synthetic close. With
    `as_of`, only candles closed by then (a replay session's clock: never a later price)."""
    wanted = sorted(set(symbols))
    if not wanted:
        return {}
    same_market = (
        Candle.source == SYNTHETIC_SOURCE
        if kind == "synthetic"
        else Candle.source != SYNTHETIC_SOURCE
    )
    if as_of is not None:
        at_ms = int(as_of.timestamp() * 1000)
        same_market = same_market & or_(
            *(
                (Candle.interval == name) & (Candle.open_time <= at_ms - ms)
                for name, ms in INTERVAL_MS.items()
            )
        )
    newest = (
        select(Candle.symbol, func.max(Candle.open_time).label("open_time"))
        .where(Candle.symbol.in_(wanted), same_market)
        .group_by(Candle.symbol)
        .subquery()
    )
    rows = session.execute(
        select(Candle.symbol, Candle.close, Candle.interval)
        .join(
            newest,
            (Candle.symbol == newest.c.symbol) & (Candle.open_time == newest.c.open_time),
        )
        .where(same_market)
        .order_by(Candle.symbol, Candle.interval)
    )
    closes: dict[str, Decimal] = {}
    for symbol, close, _interval in rows:
        closes.setdefault(symbol, Decimal(repr(float(close))))
    return closes


def mark_prices(
    engine: Engine,
    symbols: Iterable[str],
    last_fill_prices: dict[str, Decimal],
    kind: MarketKind = "real",
    *,
    as_of: datetime | None = None,
) -> dict[str, MarkPrice]:
    """Mark each symbol at its latest stored candle close of the portfolio's market `kind`
    (closed by `as_of` when given), else at its last fill price (which is of that kind: the
    ledger refuses the other)."""
    symbols = list(symbols)
    with session_scope(engine) as session:
        closes = latest_candle_closes(session, symbols, kind, as_of=as_of)
    marks: dict[str, MarkPrice] = {}
    for symbol in symbols:
        if symbol in closes:
            marks[symbol] = MarkPrice(price=closes[symbol], source="candle", market=kind)
        elif symbol in last_fill_prices:
            marks[symbol] = MarkPrice(
                price=last_fill_prices[symbol], source="last_fill", market=kind
            )
        else:
            raise PortfolioError("symbol", f"no candle and no fill to mark {symbol} with")
    return marks
