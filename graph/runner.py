"""Run the desk for one run id and turn LangGraph's stream into `graph.events` models.

`run_analysis` owns the `runs` row (running → completed | degraded | failed | budget_exceeded |
paused; degraded/failed when agents fell back, see `graph.llm.run_outcome`),
streams with `stream_mode=["custom", "updates", "tasks"]` (custom: tokens from every model,
rules engine included, tagged with their node; tasks: node starts; updates: node outputs), and
flushes the buffered cost log at the end. `resume_run` continues a paused run with the human's
answer, or (approved=None) a run whose process died, from its last checkpoint.

With `finish_run=False` (the job queue, `firm.jobs`) the runner does not write the run's final
row itself: it yields a `RunRowUpdate` just before `run_finished`, and the caller commits the
row together with the terminal event in one transaction (no reader ever sees a finished run
whose events stop short).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StreamMode
from sqlalchemy import Engine

from core.settings import Settings, get_settings
from graph.budget import BudgetExceededError
from graph.checkpoint import open_checkpointer
from graph.context import DeskContext, SourceChainMarketData, decision_time
from graph.events import (
    AgentOutput,
    BudgetEvent,
    Decision,
    ErrorEvent,
    NodeStarted,
    RunFinished,
    RunStarted,
    Token,
    TradeEvent,
)
from graph.graph import compile_desk
from graph.llm import run_outcome
from graph.models import ANALYSTS
from graph.run_row import RunRowUpdate
from graph.schemas import CallRecord, ExecutionResult, FinalDecision
from persistence.models import Run

STREAM_MODES: list[StreamMode] = ["custom", "updates", "tasks"]
OUTPUT_FIELD = {"researcher": "thesis", "trader": "proposal", "risk_manager": "review"}
DESK_NODES = {"prepare", *ANALYSTS, *OUTPUT_FIELD, "risk_gate", "execute"}


def _now() -> datetime:
    return datetime.now(UTC)


def _update_run(engine: Engine, run_id: str, **values: Any) -> None:
    from persistence.db import session_scope

    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LookupError(f"run {run_id} not found")
        for key, value in values.items():
            setattr(run, key, value)


def _ensure_run(engine: Engine, run_id: str, **values: Any) -> None:
    from persistence.db import session_scope

    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            session.add(Run(id=run_id, **values))
        else:
            for key, value in values.items():
                setattr(run, key, value)


def build_context(
    settings: Settings,
    engine: Engine,
    run_id: str,
    *,
    portfolio_id: int | None,
    execute: bool,
    overrides: dict[str, Any] | None = None,
    as_of: datetime | None = None,
    interval: str | None = None,
    blind: bool = False,
) -> DeskContext:
    """The context of a CLI/API run. With a portfolio the account is valued from the ledger
    and its risk limits apply; with `execute` the ledger executor trades the decision.
    With `as_of` (a replay, needs `interval`) the desk sees the store as it was at that bar's
    close, sentiment and tokenomics as public then (point-in-time providers), and the
    stale-data check is relative to it; a replay never executes. `blind` masks what the
    agents see (`tools.blind`) and cannot execute either."""
    ctx = DeskContext(settings=settings, engine=engine, run_id=run_id, **(overrides or {}))
    if blind:
        if execute:
            raise ValueError("blind: a blind run sees rebased prices and cannot execute a trade")
        ctx.blind = True
    if as_of is not None:
        if execute:
            raise ValueError("as_of: a replay of a past bar cannot execute a trade")
        if interval is None:
            raise ValueError("interval: required with as_of")
        ctx.now = decision_time(as_of, interval)[1]
        if ctx.market_data is None:
            ctx.market_data = SourceChainMarketData(settings, engine, as_of=as_of)
        if ctx.sentiment is None and ctx.tokenomics is None:
            from graph.prepare import point_in_time_providers

            ctx.sentiment, ctx.tokenomics = point_in_time_providers(settings, engine)
    if portfolio_id is not None:
        from graph.portfolio_view import ledger_portfolio_view
        from persistence.portfolios import get_portfolio

        info = get_portfolio(engine, portfolio_id)
        if info.kind == "synthetic" and ctx.market_data is None:
            # A synthetic portfolio asks for synthetic candles (and takes no real fills).
            ctx.market_data = SourceChainMarketData(settings, engine, synthetic=True)
        ctx.risk_limits = info.risk
        ctx.portfolio_provider = lambda snap: ledger_portfolio_view(
            engine, info.id, info.name, snap
        )
        if execute:
            from persistence.ledger import LedgerExecutor

            ctx.executor = LedgerExecutor(engine, info.id)
            ctx.require_approval = info.require_approval
    elif execute:
        raise ValueError("portfolio_id: required to execute a decision")
    return ctx.resolved()


class EventMapper:
    """LangGraph stream chunks → `graph.events` models for one run."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.decision: FinalDecision | None = None
        self.execution: ExecutionResult | None = None
        self.interrupted = False
        self.calls: list[CallRecord] = []

    def map(self, mode: str, chunk: Any) -> list[Any]:
        rid = self.run_id
        if mode == "custom" and isinstance(chunk, dict):
            if chunk.get("event") == "token":
                return [
                    Token(
                        run_id=rid,
                        node=chunk["node"],
                        message_id=chunk["message_id"],
                        text=chunk["text"],
                    )
                ]
            if chunk.get("event") == "error":
                return [
                    ErrorEvent(
                        run_id=rid,
                        node=chunk.get("node"),
                        message=chunk["message"],
                        severity=chunk.get("severity", "error"),
                        code=chunk.get("code"),
                    )
                ]
            return []
        if mode == "tasks" and isinstance(chunk, dict) and "input" in chunk:
            name = chunk.get("name")
            return [NodeStarted(run_id=rid, node=name)] if name in DESK_NODES else []
        if mode != "updates" or not isinstance(chunk, dict):
            return []
        events: list[Any] = []
        for node, update in chunk.items():
            if node == "__interrupt__":
                self.interrupted = True
                if self.decision is not None:
                    events.append(self._decision_event(awaiting=True))
                continue
            if not isinstance(update, dict):
                continue
            events.extend(self._node_update(node, update))
        return events

    def adopt_checkpointed(self, values: dict[str, Any]) -> None:
        """A resumed run: the decision and execution the checkpoint holds when the nodes that
        made them ran before the pause or the crash (this stream never saw them)."""
        if self.decision is None and values.get("decision") is not None:
            self.decision = FinalDecision.model_validate(values["decision"])
        if self.execution is None and values.get("execution") is not None:
            self.execution = ExecutionResult.model_validate(values["execution"])

    def _decision_event(self, *, awaiting: bool = False) -> Decision:
        d = self.decision
        assert d is not None
        return Decision(
            run_id=self.run_id,
            action=d.action,
            size_pct=d.size_pct,
            entry=d.entry,
            stop_loss=d.stop_loss,
            take_profit=d.take_profit,
            approved=d.approved,
            reasons=d.reasons,
            clamped=d.clamped,
            awaiting_approval=awaiting,
        )

    def _node_update(self, node: str, update: dict[str, Any]) -> list[Any]:
        output: Any = None
        if node in ANALYSTS:
            output = (update.get("reports") or {}).get(node)
        elif node in OUTPUT_FIELD:
            output = update.get(OUTPUT_FIELD[node])
        elif node == "risk_gate":
            self.decision = update.get("decision")
            return [self._decision_event()] if self.decision is not None else []
        elif node == "execute":
            self.execution = update.get("execution")
            return self._trade_event()
        if output is None:
            return []
        calls: list[CallRecord] = update.get("calls") or []
        self.calls.extend(calls)
        call = calls[0] if calls else CallRecord(agent=node, model="none")
        return [
            AgentOutput(
                run_id=self.run_id,
                node=node,
                model=call.model,
                output=output.model_dump(mode="json"),
                prompt_tokens=call.prompt_tokens,
                completion_tokens=call.completion_tokens,
                cost_usd=call.cost_usd,
                latency_ms=call.latency_ms,
                fallback=call.fallback,
                cached=call.cached,
                repaired=call.repaired,
                error=call.error,
                attempts=call.attempts,
                estimated_tokens=call.estimated_tokens,
            )
        ]

    def _trade_event(self) -> list[Any]:
        ex = self.execution
        if ex is None or ex.status != "filled" or ex.side is None:
            return []
        return [
            TradeEvent(
                run_id=self.run_id,
                portfolio_id=ex.portfolio_id or 0,
                trade_id=ex.trade_id,
                symbol="",
                side=ex.side,
                quantity=ex.quantity or 0.0,
                price=ex.price or 0.0,
                fee=ex.fee or 0.0,
            )
        ]


async def _effective_input(
    app: Any, config: RunnableConfig, graph_input: Any, fresh_input: Any, mapper: EventMapper
) -> Any:
    """What to stream when resuming (input None or a human's answer): the answer only if the
    run still waits for one (a retried approval job finds it already taken), the fresh input
    if the run died before its first checkpoint, and a run already past its last node has its
    decision and execution read back from the checkpoint."""
    if graph_input is not None and not isinstance(graph_input, Command):
        return graph_input
    state = await app.aget_state(config)
    if not state.config.get("configurable", {}).get("checkpoint_id"):
        return fresh_input
    if isinstance(graph_input, Command) and not state.interrupts:
        graph_input = None
    if graph_input is None and not state.next:
        mapper.decision = state.values.get("decision")
        mapper.execution = state.values.get("execution")
    return graph_input


async def _drive(
    ctx: DeskContext,
    graph_input: Any,
    *,
    run_id: str,
    engine: Engine,
    checkpointer: Any,
    symbol: str,
    fresh_input: Any = None,
    finish_run: bool = True,
) -> AsyncIterator[Any]:
    """Stream one invocation and finish the run row; shared by start and resume."""
    assert ctx.cost_log is not None
    mapper = EventMapper(run_id)
    status = "completed"
    error: str | None = None
    config: RunnableConfig = {"configurable": {"thread_id": run_id}}
    async with AsyncExitStack() as stack:
        saver = checkpointer
        if saver is None:
            saver = await stack.enter_async_context(open_checkpointer(ctx.settings.database_url))
        app = compile_desk(saver)
        try:
            graph_input = await _effective_input(app, config, graph_input, fresh_input, mapper)
            async for mode, chunk in app.astream(
                graph_input,
                config=config,
                context=ctx,
                stream_mode=STREAM_MODES,
            ):
                for event in mapper.map(mode, chunk):
                    if isinstance(event, TradeEvent):
                        event.symbol = symbol
                    yield event
            if mapper.interrupted:
                status = "paused"
            else:
                calls = mapper.calls
                if graph_input is None or isinstance(graph_input, Command):
                    # A resumed run: the agents ran before the pause, in the checkpoint.
                    snapshot = await app.aget_state(config)
                    calls = list(snapshot.values.get("calls") or calls)
                    mapper.adopt_checkpointed(snapshot.values)
                status, error = run_outcome(calls)
                if error is not None:
                    severity = "error" if status == "failed" else "warning"
                    yield ErrorEvent(run_id=run_id, message=error, severity=severity)
        except BudgetExceededError as exc:
            status, error = "budget_exceeded", exc.reason
            yield BudgetEvent(
                run_id=run_id,
                scope=exc.scope,
                spent_usd=float(exc.spent_usd),
                limit_usd=float(exc.limit_usd),
                spent_tokens=exc.spent_tokens,
                limit_tokens=exc.limit_tokens,
                exceeded=True,
                reason=exc.reason,
            )
        except Exception as exc:  # reported as an event and on the run row, never swallowed
            # A known failure (with a `code`) has a message in plain words; anything else keeps
            # its class name, which is what someone debugging it needs.
            code = getattr(exc, "code", None)
            code = code if isinstance(code, str) else None
            status, error = "failed", str(exc) if code else f"{type(exc).__name__}: {exc}"
            yield ErrorEvent(run_id=run_id, message=error, code=code)
        finally:
            ctx.cost_log.flush()
    log = ctx.cost_log
    result: dict[str, Any] = {
        "decision": mapper.decision.model_dump(mode="json") if mapper.decision else None,
        "execution": mapper.execution.model_dump(mode="json") if mapper.execution else None,
        "cost_usd": float(log.total_cost_usd),
        "prompt_tokens": log.total_prompt_tokens,
        "completion_tokens": log.total_completion_tokens,
    }
    final = {
        "status": status,
        "error": error,
        "result": result,
        "progress": 1.0 if status in ("completed", "degraded") else 0.0,
        "finished_at": None if status == "paused" else _now(),
    }
    if finish_run:
        _update_run(engine, run_id, **final)
    else:
        yield RunRowUpdate(final)
    yield RunFinished(
        run_id=run_id,
        status=status,  # type: ignore[arg-type]
        reason=error,
        cost_usd=float(log.total_cost_usd),
        prompt_tokens=log.total_prompt_tokens,
        completion_tokens=log.total_completion_tokens,
    )


def _model_label(ctx: DeskContext) -> tuple[str, str]:
    assert ctx.model_client is not None
    return ctx.model_client.model_for("technical"), ctx.model_client.model_for("trader")


async def run_analysis(
    symbol: str,
    interval: str,
    *,
    run_id: str | None = None,
    portfolio_id: int | None = None,
    execute: bool = False,
    engine: Engine | None = None,
    settings: Settings | None = None,
    checkpointer: Any = None,
    context_overrides: dict[str, Any] | None = None,
    as_of: datetime | None = None,
    blind: bool = False,
    finish_run: bool = True,
) -> AsyncIterator[Any]:
    """Analyse `symbol` once and yield the run's events (the last is `run_finished`).

    `as_of` replays the desk at the bar containing that time (stored history, stale check
    relative to that bar's close, no execution); `run_started.as_of` labels the replay."""
    from persistence.db import get_engine

    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url)
    run_id = run_id or str(uuid.uuid4())
    ctx = build_context(
        settings,
        engine,
        run_id,
        portfolio_id=portfolio_id,
        execute=execute,
        overrides=context_overrides,
        as_of=as_of,
        interval=interval,
        blind=blind,
    )
    cheap, strong = _model_label(ctx)
    _ensure_run(
        engine,
        run_id,
        kind="analysis",
        status="running",
        symbol=symbol,
        interval=interval,
        portfolio_id=portfolio_id,
        params={
            "execute": execute,
            "portfolio_id": portfolio_id,
            "as_of": as_of.isoformat() if as_of is not None else None,
            "blind": blind,
        },
        model=cheap if cheap == strong else f"{cheap} / {strong}",
        started_at=_now(),
    )
    yield RunStarted(
        run_id=run_id,
        kind="analysis",
        symbol=symbol,
        interval=interval,
        model_cheap=cheap,
        model_strong=strong,
        as_of=as_of,
    )
    source: str | None = None
    async for event in _drive(
        ctx,
        {"symbol": symbol, "interval": interval},
        run_id=run_id,
        engine=engine,
        checkpointer=checkpointer,
        symbol=symbol,
        finish_run=finish_run,
    ):
        if source is None and isinstance(event, AgentOutput) and event.node == "technical":
            source = str(event.output.get("source") or "") or None
            if source:
                _update_run(engine, run_id, data_source=source)
        yield event


async def resume_run(
    run_id: str,
    *,
    approved: bool | None,
    note: str = "",
    engine: Engine | None = None,
    settings: Settings | None = None,
    checkpointer: Any = None,
    context_overrides: dict[str, Any] | None = None,
    finish_run: bool = True,
) -> AsyncIterator[Any]:
    """Continue run `run_id` from its last checkpoint: with the human's answer when it is
    paused for approval (or already claimed for it: status running, set by the API), or
    (approved=None) after a crash."""
    from persistence.db import get_engine, session_scope

    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url)
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LookupError(f"run {run_id} not found")
        if approved is not None and run.status not in ("paused", "running"):
            raise ValueError(f"run {run_id} is {run.status}, not paused: nothing to approve")
        params, symbol, interval = dict(run.params or {}), run.symbol, run.interval
    as_of = params.get("as_of")
    ctx = build_context(
        settings,
        engine,
        run_id,
        portfolio_id=params.get("portfolio_id"),
        execute=bool(params.get("execute")),
        overrides=context_overrides,
        as_of=datetime.fromisoformat(as_of) if as_of else None,
        interval=interval,
        blind=bool(params.get("blind")),
    )
    _update_run(engine, run_id, status="running")
    graph_input: Any = (
        None if approved is None else Command(resume={"approved": approved, "note": note})
    )
    async for event in _drive(
        ctx,
        graph_input,
        run_id=run_id,
        engine=engine,
        checkpointer=checkpointer,
        symbol=symbol,
        fresh_input={"symbol": symbol, "interval": interval},
        finish_run=finish_run,
    ):
        yield event
