"""The desk graph as a backtest `Decider`.

The graph is the module-level compiled, checkpointer-free `graph.graph.graph` (compiled once; the
engine checkpoints itself). Each decision hands it the precomputed bar-t snapshot in the input
state, so `prepare` loads nothing; the account goes in through the context's `PortfolioView`,
and "now" is the decision bar's close time, both for the stale-data check and as the decision
time `at` of the point-in-time sentiment and tokenomics providers (`graph.prepare`), which show
only what was public by then. Each decision records its inputs' sources and `as_of`
(`DecisionInputs`). No executor is set: the engine reads the clamped decision and fills it
itself at the next open, through the broker. In blind mode the desk decides on masked inputs
and its stop/take-profit prices are mapped back to real prices here.

The graph's nodes are async; the decider owns one private event loop and drives every
decision on it, so the engine stays a plain synchronous loop (and can run in a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core.risk import RiskLimits
from core.settings import Settings
from graph.backtest.engine import BudgetExhausted
from graph.backtest.schemas import AccountView, BacktestParams, DeciderOutput, DecisionInputs
from graph.budget import BudgetExceededError, BudgetGuard
from graph.context import DeskContext, PortfolioView, PositionView
from graph.execute import order_for
from graph.prepare import point_in_time_providers
from graph.schemas import CallRecord, FinalDecision
from tools.blind import Blinder
from tools.intervals import interval_ms
from tools.sentiment import SentimentInputs, SentimentProvider
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import TokenomicsInputs, TokenomicsProvider

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from graph.models import ModelClient

# The backtest's USD cap is the binding limit; the per-analysis token budget would stop a long
# backtest after a few dozen decisions, so the run token limit is lifted for backtests.
BACKTEST_RUN_TOKENS = 10**12


class _NoMarketData:
    """`prepare` must use the snapshot it is given; loading candles here would be a bug."""

    def snapshot(self, symbol: str, interval: str) -> IndicatorSnapshot:
        raise RuntimeError("backtest decisions carry their snapshot; nothing may be loaded")


class _Recorder:
    """Wraps the context's providers and keeps what they returned for the current decision
    (the real values, before any blind masking)."""

    def __init__(self, sentiment: SentimentProvider, tokenomics: TokenomicsProvider) -> None:
        self._sentiment, self._tokenomics = sentiment, tokenomics
        self.name = sentiment.name
        self.sentiment: SentimentInputs | None = None
        self.tokenomics: TokenomicsInputs | None = None

    def reset(self) -> None:
        self.sentiment = self.tokenomics = None

    def get(self, symbol: str, *, at: Any = None) -> SentimentInputs:
        self.sentiment = self._sentiment.get(symbol, at=at)
        return self.sentiment

    def tokenomics_provider(self) -> TokenomicsProvider:
        recorder = self

        class _Tokenomics:
            name = recorder._tokenomics.name

            def get(self, symbol: str, price: float, *, at: Any = None) -> TokenomicsInputs:
                recorder.tokenomics = recorder._tokenomics.get(symbol, price, at=at)
                return recorder.tokenomics

        return _Tokenomics()


class GraphDecider:
    def __init__(self, ctx: DeskContext, *, symbol: str, interval: str) -> None:
        from graph.graph import graph

        self.graph = graph
        ctx = ctx.resolved()
        assert ctx.sentiment is not None and ctx.tokenomics is not None
        self.inputs = _Recorder(ctx.sentiment, ctx.tokenomics)
        ctx.sentiment = self.inputs
        ctx.tokenomics = self.inputs.tokenomics_provider()
        self.ctx = ctx
        self.symbol = symbol
        self.interval = interval
        self._bar = timedelta(milliseconds=interval_ms(interval))
        self._loop = asyncio.new_event_loop()

    @classmethod
    def for_backtest(
        cls,
        params: BacktestParams,
        *,
        run_id: str,
        settings: Settings,
        db: Engine | None,
        rules: bool = False,
        model_client: ModelClient | None = None,
        risk_limits: RiskLimits | None = None,
        inputs_db: Engine | None = None,
    ) -> GraphDecider:
        """`db` logs calls and holds the budget and cache; the dated headlines come from
        `inputs_db` (default: `db`)."""
        if rules:
            from graph.rules_engine import RulesModelClient

            model_client = RulesModelClient()
        cap = params.max_cost_usd if params.max_cost_usd is not None else None
        sentiment, tokenomics = point_in_time_providers(settings, inputs_db or db)
        ctx = DeskContext(
            settings=settings,
            model_client=model_client,
            market_data=_NoMarketData(),
            sentiment=sentiment,
            tokenomics=tokenomics,
            blind=params.blind,
            portfolio=PortfolioView.fresh(params.starting_cash),
            risk_limits=risk_limits or RiskLimits(),
            executor=None,
            use_cache=params.use_llm_cache,
            stream_tokens=False,
            engine=db,
            run_id=run_id,
            budget=BudgetGuard(
                settings,
                db,
                run_usd=cap if cap is not None else settings.backtest_cost_cap_usd,
                run_tokens=BACKTEST_RUN_TOKENS,
                run_id=run_id,
            ),
        )
        return cls(ctx, symbol=params.symbol, interval=params.interval)

    def _portfolio(self, account: AccountView) -> PortfolioView:
        positions = (
            {
                self.symbol: PositionView(
                    quantity=account.position_qty,
                    market_value=account.position_value,
                    avg_entry_price=account.avg_entry_price or 0.0,
                )
            }
            if account.position_qty > 0
            else {}
        )
        return PortfolioView(
            name="backtest",
            equity=account.equity,
            cash=account.cash,
            positions=positions,
            day_start_equity=account.day_start_equity,
            peak_equity=account.peak_equity,
        )

    def decide(self, snapshot: IndicatorSnapshot, account: AccountView) -> DeciderOutput:
        return self._loop.run_until_complete(self.adecide(snapshot, self._portfolio(account)))

    async def adecide(
        self,
        snapshot: IndicatorSnapshot,
        portfolio: PortfolioView,
        on_event: Callable[[Any], None] | None = None,
    ) -> DeciderOutput:
        """One decision on the running event loop (trading sessions decide their symbols in
        parallel with this). `on_event` receives the desk's `graph.events` as they happen
        (tokens, agent outputs): then the graph is streamed instead of invoked."""
        self.ctx.portfolio = portfolio
        self.ctx.now = snapshot.as_of + self._bar  # the decision is taken at the bar's close
        self.inputs.reset()
        state_in: dict[str, Any] = {
            "symbol": self.symbol,
            "interval": self.interval,
            "snapshot": snapshot,
        }
        try:
            if on_event is None:
                out = await self.graph.ainvoke(state_in, context=self.ctx)
            else:
                out = await self._streamed(state_in, on_event)
        except BudgetExceededError as exc:
            raise BudgetExhausted(
                exc.reason,
                {
                    "scope": exc.scope,
                    "spent_usd": float(exc.spent_usd),
                    "limit_usd": float(exc.limit_usd),
                    "spent_tokens": exc.spent_tokens,
                    "limit_tokens": exc.limit_tokens,
                },
            ) from exc
        values = out if isinstance(out, dict) else out.model_dump()
        decision = values.get("decision")
        if decision is None:
            raise RuntimeError("the desk finished without a decision")
        if not isinstance(decision, FinalDecision):
            decision = FinalDecision.model_validate(decision)
        if self.ctx.blind:
            decision = _unblind(decision, Blinder.for_decision(snapshot, self.ctx.now))
        calls = [
            c if isinstance(c, CallRecord) else CallRecord.model_validate(c)
            for c in values.get("calls", [])
        ]
        client = self.ctx.model_client
        metered = bool(client and client.metered)
        if client is not None and self.ctx.breaker and self.ctx.breaker.is_open(client.provider):
            # The provider is down: every later decision would be a fallback. Fail the backtest
            # now, with the reason, instead of trading on fallbacks.
            from graph.breaker import ProviderUnavailableError
            from graph.llm import run_outcome

            raise ProviderUnavailableError(run_outcome(calls)[1] or "model provider unavailable")
        order = (
            order_for(decision, self.symbol)
            if decision.approved and decision.action != "hold" and decision.size_pct > 0
            else None
        )
        return DeciderOutput(
            action=decision.action,
            approved=decision.approved,
            size_pct=decision.size_pct,
            order=order,
            llm_calls=sum(c.attempts for c in calls) if metered else 0,
            fallbacks=sum(1 for c in calls if c.fallback),
            prompt_tokens=sum(c.prompt_tokens for c in calls),
            completion_tokens=sum(c.completion_tokens for c in calls),
            cost_usd=sum(c.cost_usd for c in calls),
            inputs=self._recorded(snapshot),
            reasons=list(decision.reasons),
            stop_loss=decision.stop_loss,
            take_profit=decision.take_profit,
        )

    async def _streamed(self, state_in: dict[str, Any], on_event: Callable[[Any], None]) -> Any:
        """The graph streamed: its token and agent-output events go to `on_event`; returns
        the final values the invocation would have returned."""
        from graph.events import AgentOutput, Token
        from graph.runner import STREAM_MODES, EventMapper

        mapper = EventMapper(self.ctx.run_id or "")
        values: Any = {}
        async for mode, chunk in self.graph.astream(
            state_in, context=self.ctx, stream_mode=[*STREAM_MODES, "values"]
        ):
            if mode == "values":
                values = chunk
                continue
            for event in mapper.map(mode, chunk):
                if isinstance(event, Token | AgentOutput):
                    on_event(event)
        return values

    def _recorded(self, snapshot: IndicatorSnapshot) -> DecisionInputs:
        sentiment, tokenomics = self.inputs.sentiment, self.inputs.tokenomics
        return DecisionInputs(
            price_source=snapshot.source,
            sentiment_source=sentiment.source if sentiment else None,
            sentiment_as_of=sentiment.as_of if sentiment else None,
            fear_greed=sentiment.fear_greed if sentiment else None,
            headline_count=len(sentiment.headlines) if sentiment else None,
            tokenomics_source=tokenomics.source if tokenomics else None,
            tokenomics_as_of=tokenomics.as_of if tokenomics else None,
            blind=self.ctx.blind,
        )

    def close(self) -> None:
        """Flush the buffered cost log and close the private loop."""
        if self.ctx.cost_log is not None:
            self.ctx.cost_log.flush()
        if not self._loop.is_closed():
            self._loop.close()


def _unblind(decision: FinalDecision, blinder: Blinder) -> FinalDecision:
    """The blind desk's prices (rebased) back in real prices; sizes are percentages."""

    def real(value: float | None) -> float | None:
        return blinder.unprice(value) if value is not None else None

    return decision.model_copy(
        update={
            "entry": real(decision.entry),
            "stop_loss": real(decision.stop_loss),
            "take_profit": real(decision.take_profit),
        }
    )
