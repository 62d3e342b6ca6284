"""Portfolios: derived from the ledger (persistence/ledger.py), marked at the latest stored
candle close or, failing that, the last fill price — the mark source travels with each price."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from sqlalchemy import Engine, select

from api.deps import ApiKeyDep, EngineDep
from api.errors import ConflictError, NotFoundError, UnprocessableError, error_responses
from core.bounds import Cash, DbId, Name
from core.risk import RiskLimits
from persistence.db import session_scope
from persistence.ledger import value_portfolio
from persistence.ledger_state import realized_by_trade
from persistence.models import Portfolio, PortfolioSnapshot, Trade
from persistence.portfolios import (
    DuplicatePortfolioError,
    PortfolioError,
    PortfolioInfo,
    UnknownPortfolioError,
    create_portfolio,
    get_portfolio,
    list_portfolios,
    require_portfolio,
    validate_risk,
)
from persistence.sessions import replay_clock
from tools.portfolio_math import PositionValuation

router = APIRouter(prefix="/portfolios", tags=["portfolio"])

PortfolioId = Annotated[DbId, Path()]


class PortfolioCreate(BaseModel):
    name: Name
    starting_cash: Cash
    require_approval: bool = Field(default=False, strict=True)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    kind: Literal["real", "synthetic"] = Field(
        default="real",
        description="the market its fills come from; a synthetic portfolio trades synthetic "
        "candles only, a real one never takes a synthetic fill",
    )


def _or_none(annotation: Any) -> Any:
    return annotation | None


def _optional_limits() -> type[BaseModel]:
    """`RiskLimits` with every field optional (same bounds, same descriptions): the limits a
    PATCH changes; the others keep their stored values."""
    fields: dict[str, Any] = {
        name: (_or_none(info.annotation), FieldInfo.merge_field_infos(info, default=None))
        for name, info in RiskLimits.model_fields.items()
    }
    return create_model(  # type: ignore[call-overload,no-any-return]
        "RiskLimitsUpdate",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Risk limits to change (omitted or null: unchanged).",
        **fields,
    )


RiskLimitsUpdate = _optional_limits()


class PortfolioUpdate(BaseModel):
    """`PATCH /api/portfolios/{id}`: the limits and the approval policy. Name, cash and market
    kind are fixed at creation (sending them is a 422 naming the field)."""

    model_config = ConfigDict(extra="forbid")

    require_approval: bool | None = Field(
        default=None, strict=True, description="trades wait for a human's approval"
    )
    risk: RiskLimitsUpdate | None = None  # type: ignore[valid-type]


class PositionOut(PositionValuation):
    mark_source: Literal["candle", "last_fill"]


class PortfolioDetail(PortfolioInfo):
    cash: Decimal
    positions_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_paid: Decimal
    return_pct: Decimal
    trade_count: int
    positions: list[PositionOut]
    valued_at: datetime | None = Field(
        default=None,
        description="a replay session's clock: holdings valued at prices closed by then; "
        "None = the latest stored prices",
    )


class TradeOut(BaseModel):
    id: int
    run_id: str | None
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    slippage_bps: Decimal
    reason: str
    stop_loss: Decimal | None
    take_profit: Decimal | None
    executed_at: datetime
    realized_pnl: Decimal | None = Field(
        default=None,
        description="a sell's realised P&L (proceeds - the cost basis sold, before fees); "
        "None for a buy",
    )


class SnapshotOut(BaseModel):
    id: int
    taken_at: datetime
    cash: Decimal
    positions_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_paid: Decimal
    reason: str


class EquityPoint(BaseModel):
    at: datetime
    equity: Decimal


def _require(engine: Engine, portfolio_id: int) -> PortfolioInfo:
    try:
        return get_portfolio(engine, portfolio_id)
    except UnknownPortfolioError:
        raise NotFoundError("portfolio", portfolio_id) from None


def _detail(engine: Engine, portfolio_id: int) -> PortfolioDetail:
    info = _require(engine, portfolio_id)
    clock = replay_clock(engine, portfolio_id)
    marked = value_portfolio(engine, portfolio_id, as_of=clock)
    valuation = marked.valuation
    return PortfolioDetail(
        **info.model_dump(),
        cash=valuation.cash,
        positions_value=valuation.positions_value,
        equity=valuation.equity,
        realized_pnl=valuation.realized_pnl,
        unrealized_pnl=valuation.unrealized_pnl,
        fees_paid=valuation.fees_paid,
        return_pct=valuation.return_pct.quantize(Decimal("0.0001")),
        trade_count=marked.state.fill_count,
        valued_at=clock,
        positions=[
            PositionOut(**p.model_dump(), mark_source=marked.marks[p.symbol].source)
            for p in valuation.positions
        ],
    )


@router.get("", response_model=list[PortfolioInfo])
async def portfolios(engine: EngineDep) -> list[PortfolioInfo]:
    return await asyncio.to_thread(list_portfolios, engine)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PortfolioInfo,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 409, 422),
)
async def new_portfolio(body: PortfolioCreate, engine: EngineDep) -> PortfolioInfo:
    def create() -> PortfolioInfo:
        try:
            return create_portfolio(
                engine,
                body.name,
                body.starting_cash,
                require_approval=body.require_approval,
                risk=body.risk,
                kind=body.kind,
            )
        except DuplicatePortfolioError as exc:
            # The unique name decides, so two racing creates get one 201 and one 409.
            raise ConflictError(exc.message) from None
        except PortfolioError as exc:
            raise UnprocessableError(exc.field, exc.message) from None

    return await asyncio.to_thread(create)


def update_portfolio(engine: Engine, portfolio_id: int, body: PortfolioUpdate) -> PortfolioInfo:
    """Apply `body` to the stored portfolio in one transaction (the row locked): the merged
    limits are validated whole; 404 for an unknown id. Running sessions and the ledger read
    the limits from the row at each order, so the change applies from the next one."""
    changes: dict[str, Any] = {}
    if body.risk is not None:
        changes = body.risk.model_dump(exclude_none=True)
    with session_scope(engine) as session:
        try:
            row = require_portfolio(session, portfolio_id, for_update=True)
        except UnknownPortfolioError:
            raise NotFoundError("portfolio", portfolio_id) from None
        if changes:
            merged = validate_risk({**(row.risk or {}), **changes}, where="update")
            row.risk = merged.model_dump()
        if body.require_approval is not None:
            row.require_approval = body.require_approval
    return get_portfolio(engine, portfolio_id)


@router.patch(
    "/{portfolio_id}",
    response_model=PortfolioInfo,
    dependencies=[ApiKeyDep],
    responses=error_responses(401, 404, 422),
)
async def patch_portfolio(
    portfolio_id: PortfolioId, body: PortfolioUpdate, engine: EngineDep
) -> PortfolioInfo:
    """Change a portfolio's risk limits (only the fields sent) and approval policy."""

    def update() -> PortfolioInfo:
        try:
            return update_portfolio(engine, portfolio_id, body)
        except PortfolioError as exc:
            raise UnprocessableError(exc.field, exc.message) from None

    return await asyncio.to_thread(update)


@router.get("/{portfolio_id}", response_model=PortfolioDetail, responses=error_responses(404, 422))
async def portfolio(portfolio_id: PortfolioId, engine: EngineDep) -> PortfolioDetail:
    return await asyncio.to_thread(_detail, engine, portfolio_id)


@router.get(
    "/{portfolio_id}/positions",
    response_model=list[PositionOut],
    responses=error_responses(404, 422),
)
async def positions(portfolio_id: PortfolioId, engine: EngineDep) -> list[PositionOut]:
    detail = await asyncio.to_thread(_detail, engine, portfolio_id)
    return detail.positions


@router.get(
    "/{portfolio_id}/trades", response_model=list[TradeOut], responses=error_responses(404, 422)
)
async def trades(
    portfolio_id: PortfolioId,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[TradeOut]:
    def load() -> list[TradeOut]:
        _require(engine, portfolio_id)
        with session_scope(engine) as session:
            portfolio = session.get(Portfolio, portfolio_id)
            assert portfolio is not None  # _require checked it
            realized = realized_by_trade(session, portfolio)
            rows = session.scalars(
                select(Trade)
                .where(Trade.portfolio_id == portfolio_id)
                .order_by(Trade.executed_at.desc(), Trade.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [
                TradeOut.model_validate(r, from_attributes=True).model_copy(
                    update={"realized_pnl": realized.get(r.id)}
                )
                for r in rows
            ]

    return await asyncio.to_thread(load)


def _snapshots(engine: Engine, portfolio_id: PortfolioId, limit: int) -> list[SnapshotOut]:
    _require(engine, portfolio_id)
    with session_scope(engine) as session:
        newest = session.scalars(
            select(PortfolioSnapshot)
            .where(PortfolioSnapshot.portfolio_id == portfolio_id)
            .order_by(PortfolioSnapshot.taken_at.desc(), PortfolioSnapshot.id.desc())
            .limit(limit)
        )
        rows = [SnapshotOut.model_validate(r, from_attributes=True) for r in newest]
    return rows[::-1]  # oldest first, the order a chart draws them


@router.get(
    "/{portfolio_id}/snapshots",
    response_model=list[SnapshotOut],
    responses=error_responses(404, 422),
)
async def snapshots(
    portfolio_id: PortfolioId, engine: EngineDep, limit: Annotated[int, Query(ge=1, le=5000)] = 500
) -> list[SnapshotOut]:
    return await asyncio.to_thread(_snapshots, engine, portfolio_id, limit)


@router.get(
    "/{portfolio_id}/equity",
    response_model=list[EquityPoint],
    responses=error_responses(404, 422),
)
async def equity(
    portfolio_id: PortfolioId, engine: EngineDep, limit: Annotated[int, Query(ge=1, le=5000)] = 1000
) -> list[EquityPoint]:
    rows = await asyncio.to_thread(_snapshots, engine, portfolio_id, limit)
    return [EquityPoint(at=r.taken_at, equity=r.equity) for r in rows]
