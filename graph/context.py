"""Run-scoped context of the desk (LangGraph `context_schema`): the seams the caller controls.

Nothing here is checkpointed: the runner (or the backtest engine, or Studio) rebuilds it for
every invocation. Every field has an offline default so `DeskContext()` runs anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from core.risk import RiskLimits
from core.settings import Settings, get_settings
from graph.schemas import PortfolioView, PositionView
from tools.orders import Fill, OrderRequest
from tools.sentiment import SentimentProvider, sentiment_provider_from_settings
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import TokenomicsProvider, tokenomics_provider_from_settings

__all__ = ["DeskContext", "PortfolioView", "PositionView", "SourceChainMarketData"]

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from graph.breaker import CircuitBreaker
    from graph.budget import BudgetGuard
    from graph.costs import CostLog
    from graph.llm_cache import LLMCache
    from graph.models import ModelClient


class MarketDataProvider(Protocol):
    """Produces the indicator snapshot for a decision. The backtest engine supplies one that
    returns its precomputed bar-t snapshot; the default loads candles through the source chain."""

    def snapshot(self, symbol: str, interval: str) -> IndicatorSnapshot: ...


class OrderExecutor(Protocol):
    """`persistence.ledger.LedgerExecutor` in the CLI/API; the backtest's account in a backtest."""

    def execute(
        self,
        order: OrderRequest,
        *,
        run_id: str,
        price: Decimal,
        at: datetime,
        source: str | None = None,
    ) -> Fill | None:
        """`source`: where `price` came from (the snapshot's); the ledger refuses a price of
        the other market kind than the portfolio's."""
        ...


_BOUND_PORTFOLIOS: dict[tuple[str, int | None], tuple[Any, Any]] = {}
"""(database url, portfolio id) → (engine, PortfolioInfo), refreshed by every `prepare`."""


class ReplayDataError(ValueError):
    """A replay (`as_of`) found no real candles at that time; never replaced by synthetic.

    Its message is plain words (no class name, no command): `code` tells clients what it is."""

    code = "no_replay_data"


def decision_time(as_of: datetime, interval: str) -> tuple[datetime, datetime]:
    """(open time of the bar containing `as_of`, that bar's close = when the desk decides)."""
    from tools.intervals import interval_ms

    step = timedelta(milliseconds=interval_ms(interval))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    bar_open = epoch + ((as_of - epoch) // step) * step
    return bar_open, bar_open + step


class SourceChainMarketData:
    """Default provider: `tools.market_data.load_candles` (live → store, or synthetic when
    asked) over the candle store, and `tools.indicators`. Imported lazily so the graph module
    imports without pandas work.

    With `as_of` (a replay) the snapshot is the bar containing `as_of`, computed from the bars
    up to and including it; with no stored candles then, it fails (`ReplayDataError`) — a
    replay of invented data would look like history. `synthetic` asks for synthetic candles
    (a synthetic portfolio)."""

    BARS = 500
    """Enough for EMA200 to settle (make_snapshot needs ≥ 200) without loading years."""

    def __init__(
        self,
        settings: Settings | None = None,
        engine: Engine | None = None,
        *,
        as_of: datetime | None = None,
        synthetic: bool = False,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.as_of = as_of
        self.synthetic = synthetic

    def snapshot(self, symbol: str, interval: str) -> IndicatorSnapshot:
        from persistence.candles import SqlCandleStore
        from persistence.db import get_engine
        from tools.indicators import compute_indicators, make_snapshot
        from tools.market_data import MissingDataError, load_candles

        settings = self.settings or get_settings()
        end = decision_time(self.as_of, interval)[1] if self.as_of is not None else None
        store = SqlCandleStore(self.engine or get_engine(settings.database_url))
        try:
            series = load_candles(
                symbol,
                interval,
                end=end,
                limit=self.BARS,
                store=store,
                settings=settings,
                synthetic=self.synthetic,
            )
        except MissingDataError as exc:
            if self.as_of is None:
                raise
            raise ReplayDataError(
                f"no stored {symbol} {interval} candles at or before "
                f"{self.as_of:%Y-%m-%d %H:%M} UTC to replay: that history has not been "
                "imported or fetched"
            ) from exc
        frame = compute_indicators(series.frame, interval)
        return make_snapshot(frame, symbol=symbol, interval=interval, source=series.source)


@dataclass(kw_only=True)
class DeskContext:
    """Everything a desk run needs from outside the graph state."""

    settings: Settings = field(default_factory=get_settings)
    """Model tiers, prices, budgets, provider choice."""

    model_client: ModelClient | None = None
    """The model seam; None → built from settings (rules engine offline)."""

    market_data: MarketDataProvider | None = None
    """Where `prepare` gets the snapshot when the input state carries none."""

    sentiment: SentimentProvider | None = None
    tokenomics: TokenomicsProvider | None = None

    portfolio: PortfolioView | None = None
    """Account state for the risk checks; None → a fresh portfolio of default_starting_cash."""

    portfolio_provider: Callable[[IndicatorSnapshot], PortfolioView] | None = None
    """Values a real account at the snapshot price (the ledger); wins over `portfolio`."""

    risk_limits: RiskLimits = field(default_factory=RiskLimits)

    now: datetime | None = None
    """Wall clock for the stale-data check and the decision time `at` of every input
    provider (only what was public by then); None → real time. Backtests pass the bar's close."""

    blind: bool = False
    """Blind mode (`tools.blind`): the agents see an anonymous ticker, rebased prices and
    relative times; never combined with an executor (fills need real prices)."""

    executor: OrderExecutor | None = None
    """None → decisions are recorded but never executed."""

    require_approval: bool = False
    """Pause (LangGraph interrupt) before executing, until a human approves or rejects."""

    use_cache: bool | None = None
    """LLM answer cache; None → on for real providers (irrelevant for the rules engine)."""

    stream_tokens: bool = True
    """Emit reasoning token by token on the custom stream; backtests turn it off for speed."""

    engine: Engine | None = None
    """Database for agent_logs, llm_cache and the daily budget; None → nothing is persisted."""

    cost_log: CostLog | None = None
    budget: BudgetGuard | None = None
    cache: LLMCache | None = None
    """Recorded model responses: the answer cache and the replay store."""

    breaker: CircuitBreaker | None = None
    """Per-provider circuit breaker; a backtest shares one over all its decisions."""

    portfolio_id: int | None = None
    """A paper portfolio named by id (Studio's context) instead of injected seams; bound by
    `bind_portfolio()`."""

    run_id: str | None = None
    """Run id for logs and the executor's idempotency key; None → the LangGraph thread id."""

    extra: dict[str, Any] = field(default_factory=dict)
    """Test hooks and caller-specific values; never read by production nodes."""

    _resolved: bool = field(default=False, init=False, repr=False, compare=False)
    """Set by `resolved()`: every node asks for the resolved context, so later calls return
    at once. `replace()` does not copy it, so an overridden copy resolves again."""

    def with_overrides(self, values: dict[str, Any]) -> DeskContext:
        """A copy with simple fields replaced (Studio passes its context as a JSON object).
        `portfolio_id` names a paper portfolio to value, limit and execute on (see
        `bind_portfolio`): Studio can trade, with approval, without an injected executor."""
        allowed = {"require_approval", "use_cache", "stream_tokens", "run_id", "now"}
        unknown = set(values) - allowed - {"portfolio_id"}
        if unknown:
            raise ValueError(
                f"unknown context field(s) {sorted(unknown)}; allowed: "
                f"{sorted(allowed | {'portfolio_id'})}"
            )
        simple = {key: value for key, value in values.items() if key in allowed}
        ctx = replace(self, **simple, portfolio_id=values.get("portfolio_id"))
        cached = _BOUND_PORTFOLIOS.get((ctx.settings.database_url, ctx.portfolio_id))
        return ctx._bound_to(*cached) if cached is not None else ctx

    def bound_if_known(self) -> DeskContext:
        """This context bound to its named portfolio when `prepare` bound it in this process
        already (a dict lookup: safe on the event loop); else itself. Every node reads the
        portfolio's limits this way, not only the one that bound it."""
        if not self.portfolio_unbound:
            return self
        cached = _BOUND_PORTFOLIOS.get((self.settings.database_url, self.portfolio_id))
        return self._bound_to(*cached) if cached is not None else self

    def bind_portfolio(self) -> DeskContext:
        """Blocking (run it in a thread): load `portfolio_id` from the database and return a
        copy bound to it — its risk limits, ledger valuation and executor; approval required
        when the context or the portfolio asks for it. Nodes that follow reuse the binding."""
        if self.portfolio_id is None:
            return self
        from persistence.db import get_engine
        from persistence.portfolios import get_portfolio

        engine = self.engine or get_engine(self.settings.database_url)
        info = get_portfolio(engine, self.portfolio_id)
        _BOUND_PORTFOLIOS[(self.settings.database_url, self.portfolio_id)] = (engine, info)
        return self._bound_to(engine, info)

    def _bound_to(self, engine: Engine, info: Any) -> DeskContext:
        from graph.portfolio_view import ledger_portfolio_view
        from persistence.ledger import LedgerExecutor

        return replace(
            self,
            engine=engine,
            risk_limits=info.risk,
            portfolio_provider=lambda snap: ledger_portfolio_view(engine, info.id, info.name, snap),
            executor=LedgerExecutor(engine, info.id),
            require_approval=self.require_approval or info.require_approval,
        )

    @property
    def portfolio_unbound(self) -> bool:
        """A portfolio is named but not bound yet (call `bind_portfolio` in a thread)."""
        return self.portfolio_id is not None and self.executor is None

    def resolved(self) -> DeskContext:
        """Fill every None seam from settings. Idempotent; called once per run by the runner
        and lazily by nodes when the graph is invoked directly (backtests, Studio)."""
        if self._resolved:
            return self
        from graph.breaker import CircuitBreaker
        from graph.budget import BudgetGuard
        from graph.costs import CostLog
        from graph.llm_cache import LLMCache

        s = self.settings
        if self.model_client is None:
            self.model_client = client_from_settings(s)
        if self.market_data is None:
            self.market_data = SourceChainMarketData(s, self.engine)
        if self.sentiment is None:
            self.sentiment = sentiment_provider_from_settings(s)
        if self.tokenomics is None:
            self.tokenomics = tokenomics_provider_from_settings(s)
        if self.portfolio is None:
            self.portfolio = PortfolioView.fresh(s.default_starting_cash)
        if self.use_cache is None:
            self.use_cache = self.model_client.metered
        if self.cost_log is None:
            self.cost_log = CostLog(self.engine, provider=s.llm_provider.value)
        if self.budget is None:
            self.budget = BudgetGuard(s, self.engine, run_id=self.run_id)
        if self.cache is None and self.use_cache:
            self.cache = LLMCache(self.engine)
        if self.breaker is None:
            self.breaker = CircuitBreaker(s.llm_breaker_failures)
        self._resolved = True
        return self


def client_from_settings(settings: Settings) -> ModelClient:
    """The model client for `settings.llm_provider`: the offline rules engine, or ChatOpenAI
    for OpenAI, OpenRouter, Ollama and any OpenAI-compatible server. Raises
    `graph.models.ModelConfigError` (naming the setting) when the settings cannot work."""
    from core.settings import LLMProvider

    if settings.llm_provider is LLMProvider.rules:
        from graph.rules_engine import RulesModelClient

        return RulesModelClient()
    from graph.models import OpenAIChatClient

    return OpenAIChatClient(settings)
