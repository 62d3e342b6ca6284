"""Cost estimate of a backtest, checked before it starts.

calls  = decision points × 6 agents
tokens = Σ per agent (prompt estimate + settings.llm_max_output_tokens) × decision points
USD    = tokens priced with settings.llm_prices (cheap tier: the three analysts; strong tier:
         researcher, trader, risk manager)

The prompt estimates are the size of each agent's prompt with a typical snapshot at ~4
characters per token (the budget guard's rule); they are an upper-bound planning figure — the
answer cache can only make a real run cheaper. The rules engine is free.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from core.settings import Settings
from graph.backtest.schemas import BacktestParams
from tools.intervals import interval_ms

CHEAP_AGENTS = ("technical", "sentiment", "tokenomics")
STRONG_AGENTS = ("researcher", "trader", "risk_manager")
AGENTS = CHEAP_AGENTS + STRONG_AGENTS

# Prompt tokens per call: system prompt + compact snapshot (analysts), plus the analysts'
# reports (researcher), plus the thesis (trader), plus proposal and limits (risk manager).
PROMPT_TOKENS_ESTIMATE: dict[str, int] = {
    "technical": 1_100,
    "sentiment": 900,
    "tokenomics": 800,
    "researcher": 1_600,
    "trader": 1_500,
    "risk_manager": 1_700,
}


class CostLimitError(ValueError):
    """The estimate is above the cap; raise the cap explicitly (`--max-cost`) to run anyway."""


class UnknownPriceError(ValueError):
    pass


class CostEstimate(BaseModel):
    decision_points: int
    agent_calls: int
    metered: bool
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: Decimal
    cap_usd: Decimal
    model_cheap: str
    model_strong: str

    @property
    def within_cap(self) -> bool:
        return self.usd <= self.cap_usd


def decision_points(params: BacktestParams) -> int:
    """Decisions the engine will make: every `every` bars of [start, end), none on the last bar.

    Counted from the calendar (gaps in the data make the real number slightly smaller)."""
    bars = int((params.end - params.start).total_seconds() * 1000) // interval_ms(params.interval)
    return max(0, -(-(bars - 1) // params.every))


def _price(settings: Settings, model: str) -> tuple[Decimal, Decimal]:
    price = settings.llm_prices.get(model)
    if price is None:
        raise UnknownPriceError(
            f"llm_prices: no price for model {model!r}; add it to LLM_PRICES to estimate costs"
        )
    return price.input_per_mtok, price.output_per_mtok


def estimate_cost(params: BacktestParams, settings: Settings) -> CostEstimate:
    points = decision_points(params)
    cap = params.max_cost_usd if params.max_cost_usd is not None else settings.backtest_cost_cap_usd
    metered = not settings.offline_models
    prompt = completion = 0
    usd = Decimal(0)
    if metered:
        for agent in AGENTS:
            model = settings.llm_model_cheap if agent in CHEAP_AGENTS else settings.llm_model_strong
            p_in, p_out = _price(settings, model)
            p, c = PROMPT_TOKENS_ESTIMATE[agent] * points, settings.llm_max_output_tokens * points
            prompt += p
            completion += c
            usd += (p * p_in + c * p_out) / Decimal(1_000_000)
    return CostEstimate(
        decision_points=points,
        agent_calls=points * len(AGENTS),
        metered=metered,
        llm_calls=points * len(AGENTS) if metered else 0,
        prompt_tokens=prompt,
        completion_tokens=completion,
        usd=usd.quantize(Decimal("0.0001")),
        cap_usd=cap,
        model_cheap="rules" if not metered else settings.llm_model_cheap,
        model_strong="rules" if not metered else settings.llm_model_strong,
    )


def check_cost(estimate: CostEstimate) -> None:
    if not estimate.within_cap:
        raise CostLimitError(
            f"max_cost: estimated ${estimate.usd} for {estimate.llm_calls} LLM calls exceeds the "
            f"cap ${estimate.cap_usd}; raise it explicitly (--max-cost) to run anyway"
        )
