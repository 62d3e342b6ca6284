"""The engine of record of a trading session: one bar of the whole watchlist at a time.

Per bar t (open time `bar_ms`), in this order, as a backtest does it for one symbol:
1. each symbol's pending order (decided at an earlier close, approved) fills at t's open
   through the ledger (`persistence.ledger.execute_order`, client order id
   `session:<id>:<symbol>:<decision bar_ms>`, the candles' source as `price_source`, the
   session's fee and slippage) — the ledger enforces the limits under the portfolio lock;
   sells before buys, so a bar's sales free cash for its purchases;
2. stop-loss / take-profit exits on t (`persistence.ledger.apply_bar_exits`, idempotent);
3. equity marked at t's close (float cash + Σ quantity × close, as the backtest account);
4. every symbol decided at t's close in parallel (`asyncio.gather` over one desk per symbol)
   → one `session_bars` row each (exactly once: an existing row is reused, never re-decided);
5. approvals unanswered for `approval_timeout_bars` bars expire;
6. the bar's `session_ticks` row and the run's checkpoint (day-start/peak marks) in one
   transaction: the marker that bar t is done.
Every step is idempotent, so a session whose worker died re-runs the unfinished bar without
a second fill or decision, and continues with the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from core.risk import OrderSkipped
from graph.backtest.desk import GraphDecider
from graph.events import AgentOutput, SessionDecision, SessionTick, Token, TradeEvent
from persistence import sessions as store
from persistence.ledger import (
    LedgerError,
    apply_bar_exits,
    execute_order,
    load_state,
    take_snapshot,
)
from sessions.desk import portfolio_view
from sessions.market import SymbolData
from sessions.schemas import SessionDecisionRow, SessionSpec
from tools.broker import Bar, BrokerConfig, OrderRejected, SimulatedBroker
from tools.intervals import DAY_MS, interval_ms
from tools.orders import Fill, OrderRequest
from tools.portfolio_math import PortfolioMathError

Emit = Callable[[Any], None]
_NEAR = 1e-9  # the backtest account's float pre-filter margin for exits


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass
class Marks:
    """Day-start and peak equity, kept exactly as `graph.backtest.engine.run_engine` keeps
    them (the circuit breakers' references); saved in the run's checkpoint each bar."""

    day_start: float
    peak: float
    current_day: int | None = None
    last: float | None = None

    def observe(self, bar_ms: int, equity: float) -> None:
        day = bar_ms // DAY_MS
        if self.current_day is None:
            self.current_day = day
        elif day != self.current_day:
            self.day_start = self.last if self.last is not None else self.day_start
            self.current_day = day
        self.last = equity
        self.peak = max(self.peak, equity)


class SessionEngine:
    """Steps one session bar by bar; the database is the state, this object a cache of it."""

    def __init__(
        self,
        db: Engine,
        session_id: str,
        spec: SessionSpec,
        portfolio_id: int,
        deciders: dict[str, GraphDecider],
        *,
        emit: Emit,
        marks: Marks,
        bars_processed: int = 0,
        detail_events: bool = False,
    ) -> None:
        self.db, self.id, self.spec, self.portfolio_id = db, session_id, spec, portfolio_id
        self.deciders = deciders
        self.emit = emit
        self.marks = marks
        self.bars_processed = bars_processed
        self.detail_events = detail_events
        self.step_ms = interval_ms(spec.interval)
        self.broker = SimulatedBroker(
            BrokerConfig(
                fee_rate=Decimal(str(spec.fee_rate)), slippage_bps=Decimal(str(spec.slippage_bps))
            )
        )
        self.state = load_state(db, portfolio_id)
        self.closes: dict[str, float] = {}
        self.last_equity: float | None = None
        # Caches of what only this engine writes (a human answer only turns an awaiting row
        # into a decided one): rows that may fill, and whether the bar may hold decisions
        # already (only the first bar after a (re)start can: it may have been in progress).
        self._open_rows = True
        self._first_bar = True

    # --- 1. fills ------------------------------------------------------------------------
    def fill_pending(self, bar_ms: int, data: dict[str, SymbolData]) -> None:
        if not self._open_rows and self.spec.approval == "auto":
            return
        open_rows = [
            r
            for r in store.decisions(self.db, self.id, statuses=("decided",))
            if r.order_request is not None and r.bar_ms < bar_ms
        ]
        rows = [r for r in open_rows if data[r.symbol].has(bar_ms)]
        rows.sort(key=lambda r: (r.order_request.get("side") != "sell", r.symbol))  # type: ignore[union-attr]
        for row in rows:
            self._fill(row, bar_ms, data[row.symbol])
        self._open_rows = len(rows) < len(open_rows)  # a symbol without this bar still waits

    def _fill(self, row: store.BarRow, bar_ms: int, sd: SymbolData) -> None:
        assert row.order_request is not None
        order = OrderRequest.model_validate(row.order_request)
        try:
            fill = execute_order(
                self.db,
                self.portfolio_id,
                order,
                client_order_id=f"session:{self.id}:{row.symbol}:{row.bar_ms}",
                price=sd.open_price(bar_ms),
                at=_time(bar_ms),
                run_id=self.id,
                broker=self.broker,
                price_source=sd.source,
            )
        except OrderSkipped as exc:
            self._settle(row, "skipped", exc.reason)
            return
        except (LedgerError, OrderRejected, PortfolioMathError) as exc:
            self._settle(row, "skipped", str(exc))
            return
        self.state = load_state(self.db, self.portfolio_id)
        detail = "; ".join(fill.adjustments) or None
        self._settle(row, "filled", detail, trade_id=fill.trade_id)
        self._trade(fill)

    def _settle(self, row: store.BarRow, status: str, detail: str | None, **extra: Any) -> None:
        """Filled or skipped; a human's answer already in `detail` is kept in front."""
        detail = "; ".join(d for d in (row.detail, detail) if d) or None
        done = store.update_decision(
            self.db, row.id, only_from=("decided",), status=status, detail=detail, **extra
        )
        if done is not None:
            self.decision_event(done)

    def _trade(self, fill: Fill) -> None:
        self.emit(
            TradeEvent(
                run_id=self.id,
                portfolio_id=self.portfolio_id,
                trade_id=fill.trade_id,
                symbol=fill.symbol,
                side=fill.side,
                quantity=float(fill.quantity),
                price=float(fill.price),
                fee=float(fill.fee),
            )
        )

    # --- 2. exits ------------------------------------------------------------------------
    def exits(self, bar_ms: int, data: dict[str, SymbolData]) -> None:
        for symbol, sd in data.items():
            position = self.state.positions.get(symbol)
            if position is None or position.protective_trade_id is None or not sd.has(bar_ms):
                continue
            open_, high, low, close = sd.ohlc(bar_ms)
            stop, tp = position.stop_loss, position.take_profit
            near_stop = stop is not None and low <= float(stop) * (1 + _NEAR)
            near_tp = tp is not None and high >= float(tp) * (1 - _NEAR)
            if not (near_stop or near_tp):
                continue
            at = _time(bar_ms)
            fill = apply_bar_exits(
                self.db,
                self.portfolio_id,
                symbol,
                Bar.from_floats(open_, high, low, close, at),
                at=at,
                broker=self.broker,
            )
            if fill is not None:
                assert fill.trade_id is not None
                store.claim_trade(self.db, fill.trade_id, self.id)
                self.state = load_state(self.db, self.portfolio_id)
                self._trade(fill)

    # --- 3. marks ------------------------------------------------------------------------
    def mark(self, bar_ms: int, data: dict[str, SymbolData]) -> store.TickRow:
        for symbol, sd in data.items():
            if sd.has(bar_ms):
                self.closes[symbol] = sd.close(bar_ms)
        view = portfolio_view(self.state, self.closes, day_start_equity=1.0, peak_equity=1.0)
        equity = view.equity
        self.marks.observe(bar_ms, equity)
        self.last_equity = equity
        peak = self.marks.peak
        pct = {s: 100.0 * p.market_value / equity for s, p in view.positions.items()}
        return store.TickRow(
            bar_ms=bar_ms,
            equity=Decimal(repr(equity)),
            cash=self.state.cash,
            exposure_pct=sum(pct.values()),
            drawdown_pct=100.0 * (peak - equity) / peak if peak > 0 else 0.0,
            positions=pct,
        )

    # --- 4. decisions --------------------------------------------------------------------
    async def decide(self, bar_ms: int, data: dict[str, SymbolData]) -> None:
        first, self._first_bar = self._first_bar, False
        todo = [
            s
            for s, sd in data.items()
            if sd.has(bar_ms)
            and not (first and store.find_decision(self.db, self.id, s, bar_ms) is not None)
        ]
        if not todo:
            return
        view = portfolio_view(
            self.state,
            self.closes,
            day_start_equity=self.marks.day_start,
            peak_equity=self.marks.peak,
        )
        outs = await asyncio.gather(
            *(
                self.deciders[s].adecide(
                    data[s].snapshot(bar_ms),
                    view.model_copy(deep=True),
                    on_event=self._tagged(s) if self.detail_events else None,
                )
                for s in todo
            )
        )
        for symbol, out in zip(todo, outs, strict=True):
            order = out.order
            if order is not None:
                status = "awaiting_approval" if self.spec.approval == "require" else "decided"
                detail = None
                self._open_rows = True
            elif out.action == "hold":
                status, detail = "decided", None
            else:
                status = "skipped"
                detail = out.reasons[-1] if out.reasons else "not approved"
            row, _new = store.insert_decision(
                self.db,
                self.id,
                symbol,
                bar_ms,
                {
                    "decision": {
                        "reasons": out.reasons,
                        "inputs": out.inputs.model_dump(mode="json") if out.inputs else None,
                        "cost_usd": out.cost_usd,
                        "fallbacks": out.fallbacks,
                    },
                    "order_request": order.model_dump(mode="json") if order else None,
                    "action": out.action,
                    "approved": out.approved,
                    "size_pct": out.size_pct,
                    "stop_loss": float(order.stop_loss) if order and order.stop_loss else None,
                    "take_profit": (
                        float(order.take_profit) if order and order.take_profit else None
                    ),
                    "status": status,
                    "detail": detail,
                },
            )
            self.decision_event(row)

    def _tagged(self, symbol: str) -> Emit:
        def emit(event: Any) -> None:
            if isinstance(event, Token | AgentOutput):
                event.symbol = symbol
            self.emit(event)

        return emit

    def decision_event(self, row: store.BarRow) -> None:
        self.emit(SessionDecision(run_id=self.id, **decision_row(row).model_dump()))

    # --- 5. approvals --------------------------------------------------------------------
    def expire(self, bar_ms: int) -> None:
        if self.spec.approval != "require":
            return
        n = self.spec.approval_timeout_bars
        for row in store.decisions(self.db, self.id, statuses=("awaiting_approval",)):
            if bar_ms >= row.bar_ms + n * self.step_ms:
                done = store.update_decision(
                    self.db,
                    row.id,
                    only_from=("awaiting_approval",),
                    status="expired",
                    detail=f"no answer within {n} bar(s): skipped",
                )
                if done is not None:
                    self.decision_event(done)

    # --- the bar -------------------------------------------------------------------------
    async def step(
        self,
        bar_ms: int,
        data: dict[str, SymbolData],
        *,
        decide: bool,
        progress: float | None = None,
        doing: str | None = None,
    ) -> None:
        traded_before = self.state.fill_count
        self.fill_pending(bar_ms, data)
        self.exits(bar_ms, data)
        tick = self.mark(bar_ms, data)
        if decide:
            await self.decide(bar_ms, data)
        self.expire(bar_ms)
        if self.state.positions or self.state.fill_count != traded_before:
            # The ledger's circuit breakers read portfolio snapshots: one per bar close while
            # anything is held keeps their day-start and peak equal to the session's marks.
            closes = {s: Decimal(repr(c)) for s, c in self.closes.items()}
            at = _time(bar_ms) + timedelta(milliseconds=self.step_ms - 1)
            take_snapshot(self.db, self.portfolio_id, closes, at=at)
        self.bars_processed += 1
        checkpoint = {
            "marks": asdict(self.marks),
            "closes": self.closes,
            "next_bar_ms": bar_ms + self.step_ms,
            "doing": doing,
        }
        store.finish_bar(self.db, self.id, tick, checkpoint, progress=progress)
        self.emit(
            SessionTick(
                run_id=self.id,
                bar_time=_time(bar_ms),
                equity=float(tick.equity),
                cash=float(tick.cash),
                drawdown_pct=tick.drawdown_pct,
                exposure_pct=tick.exposure_pct,
                bars_processed=self.bars_processed,
            )
        )


def decision_row(row: store.BarRow) -> SessionDecisionRow:
    """A `session_bars` row as the API, the CLI and the `session_decision` event show it."""
    return SessionDecisionRow(
        symbol=row.symbol,
        bar_time=row.bar_time,
        action=row.action,  # type: ignore[arg-type]
        approved=row.approved,
        size_pct=row.size_pct,
        stop_loss=row.stop_loss,
        take_profit=row.take_profit,
        status=row.status,  # type: ignore[arg-type]
        detail=row.detail,
        trade_id=row.trade_id,
        reasons=list(row.decision.get("reasons", [])),
    )
