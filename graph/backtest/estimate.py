"""Cost estimate of a backtest, checked before it starts: a true upper bound.

calls  = decision points × 6 agents × 2 (every agent may need its one repair)
tokens = per agent and decision: 2 prompts (the repair's also carries the bad answer, at most
         `llm_max_output_tokens`, and the repair note) + 2 × `llm_max_output_tokens`
prompt = the agent's system prompt counted exactly with the model's tokenizer (OpenAI models;
         UTF-8 bytes for any other model, see graph.tokens) + a ceiling of the user message's
         characters (a token is at least one character), + chat-format overhead
USD    = tokens priced with settings.llm_prices (cheap tier: the three analysts; strong tier:
         researcher, trader, risk manager); free providers (Ollama) and the rules engine cost 0.

Real runs cost less: the recording (answer cache) and valid first answers only lower it.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from pydantic import BaseModel

from core.settings import Settings
from graph.backtest.schemas import BacktestParams
from tools.intervals import interval_ms

CHEAP_AGENTS = ("technical", "sentiment", "tokenomics")
STRONG_AGENTS = ("researcher", "trader", "risk_manager")
AGENTS = CHEAP_AGENTS + STRONG_AGENTS

# Ceiling of each agent's user message in characters: the compact snapshot (analysts), the
# headlines (sentiment, up to ~20), the analysts' bounded reports (researcher), the thesis and
# the account (trader), plus proposal and limits (risk manager).
USER_CHARS_BOUND: dict[str, int] = {
    "technical": 2_500,
    "sentiment": 4_000,
    "tokenomics": 1_500,
    "researcher": 2_500,
    "trader": 1_500,
    "risk_manager": 2_000,
}
ATTEMPTS = 2
REPAIR_NOTE_TOKENS = 120


def prompt_tokens_bound(agent: str, model: str) -> int:
    """Upper bound of one first-attempt prompt of `agent` for `model`."""
    from graph.agents import researcher, risk_manager, sentiment, technical, tokenomics, trader
    from graph.tokens import MESSAGE_OVERHEAD, prompt_token_bound

    system = {
        "technical": technical.SYSTEM,
        "sentiment": sentiment.SYSTEM,
        "tokenomics": tokenomics.SYSTEM,
        "researcher": researcher.SYSTEM,
        "trader": trader.SYSTEM,
        "risk_manager": risk_manager.SYSTEM,
    }[agent]
    return prompt_token_bound(model, [system]) + USER_CHARS_BOUND[agent] + MESSAGE_OVERHEAD


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
    from graph.models import FREE_PROVIDERS

    price = settings.llm_prices.get(model)
    if price is None and settings.llm_provider in FREE_PROVIDERS:
        return Decimal(0), Decimal(0)  # Ollama: local, free; no price needed
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
    out = settings.llm_max_output_tokens
    if metered:
        for agent in AGENTS:
            model = settings.llm_model_cheap if agent in CHEAP_AGENTS else settings.llm_model_strong
            p_in, p_out = _price(settings, model)
            first = prompt_tokens_bound(agent, model)
            repair = first + out + REPAIR_NOTE_TOKENS  # the bad answer and the note go back
            p, c = (first + repair) * points, ATTEMPTS * out * points
            prompt += p
            completion += c
            usd += (p * p_in + c * p_out) / Decimal(1_000_000)
    return CostEstimate(
        decision_points=points,
        agent_calls=points * len(AGENTS),
        metered=metered,
        llm_calls=points * len(AGENTS) * ATTEMPTS if metered else 0,
        prompt_tokens=prompt,
        completion_tokens=completion,
        usd=usd.quantize(Decimal("0.0001"), rounding=ROUND_CEILING),
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
