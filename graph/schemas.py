"""Structured outputs of the six agents and of the code that wraps them.

Every model (the rules engine or an LLM) must produce exactly these shapes; a reply that does
not validate gets one repair attempt and then the agent's safe fallback (see `graph.llm`).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _case_insensitive(value: Any) -> Any:
    """An enum answered as "Bullish" or " HOLD " means the same word: accepted, nothing else is
    guessed (an unknown word still fails validation)."""
    return value.strip().lower() if isinstance(value, str) else value


Signal = Annotated[Literal["bullish", "bearish", "neutral"], BeforeValidator(_case_insensitive)]
Action = Annotated[Literal["buy", "sell", "hold"], BeforeValidator(_case_insensitive)]
Verdict = Annotated[Literal["approve", "resize", "reject"], BeforeValidator(_case_insensitive)]


class AnalystReport(BaseModel):
    """What one analyst (technical, sentiment, tokenomics) concludes."""

    model_config = ConfigDict(extra="ignore")

    signal: Signal
    score: float = Field(ge=-1, le=1, description="-1 very bearish … +1 very bullish")
    confidence: float = Field(ge=0, le=1)
    key_points: list[str] = Field(default_factory=list, max_length=8)
    summary: str = ""
    source: str = Field(default="", description="where the inputs came from (offline, live…)")


class ResearchThesis(BaseModel):
    """The researcher's synthesis of the three reports."""

    model_config = ConfigDict(extra="ignore")

    direction: Signal = Field(description="bullish: add exposure; bearish: reduce; neutral: wait")
    conviction: float = Field(ge=0, le=1)
    key_risks: list[str] = Field(default_factory=list, max_length=8)
    summary: str = ""


class TradeProposal(BaseModel):
    """The trader's order idea. For a buy, `size_pct` is % of equity to spend; for a sell it
    is % of the held position to sell (spot only: no shorting)."""

    model_config = ConfigDict(extra="ignore")

    action: Action
    size_pct: float = Field(ge=0, le=100)
    entry: float | None = Field(default=None, gt=0, description="price; null for a hold")
    stop_loss: float | None = Field(
        default=None, gt=0, description="price below entry for a buy; null if none"
    )
    take_profit: float | None = Field(default=None, gt=0, description="price; null if none")
    rationale: str = ""


class RiskReview(BaseModel):
    """The LLM risk manager's verdict. It may only shrink or reject: code enforces that."""

    model_config = ConfigDict(extra="ignore")

    verdict: Verdict
    size_pct: float = Field(ge=0, le=100)
    stop_loss: float | None = Field(default=None, gt=0, description="price; null if none")
    take_profit: float | None = Field(default=None, gt=0, description="price; null if none")
    reasons: list[str] = Field(default_factory=list, max_length=8)


class PositionView(BaseModel):
    quantity: float = Field(ge=0)
    market_value: float = Field(ge=0)
    avg_entry_price: float = Field(ge=0)


class PortfolioView(BaseModel):
    """What the risk checks need to know about the account, valued at the decision price."""

    portfolio_id: int | None = None
    name: str = "default"
    equity: float = Field(gt=0)
    cash: float = Field(ge=0)
    positions: dict[str, PositionView] = Field(default_factory=dict)
    day_start_equity: float = Field(gt=0, description="equity at the last UTC midnight")
    peak_equity: float = Field(gt=0)

    @property
    def exposure(self) -> float:
        return sum(p.market_value for p in self.positions.values())

    def position_value(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        return pos.market_value if pos else 0.0

    @classmethod
    def fresh(cls, starting_cash: Decimal | float, name: str = "default") -> PortfolioView:
        cash = float(starting_cash)
        return cls(name=name, equity=cash, cash=cash, day_start_equity=cash, peak_equity=cash)


class FinalDecision(BaseModel):
    """The decision after the code risk clamp: the only thing the execute node acts on."""

    action: Action
    size_pct: float = Field(ge=0, le=100)
    entry: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    clamped: bool = Field(default=False, description="code changed what the models asked for")


class CallRecord(BaseModel):
    """One agent's model work as the graph saw it (every attempt summed): the source of
    `agent_output` events and run totals."""

    agent: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cached: bool = False
    """Answered from the answer cache / a recording: no model call was made."""
    fallback: bool = False
    """No valid answer: the agent's safe fallback output was used (see `error`)."""
    repaired: bool = False
    """The first answer was invalid; a repair attempt gave a valid one."""
    error: str | None = None
    attempts: int = 0
    """Model calls made (a repair is a second call; a cut or failed stream counts too)."""
    estimated_tokens: bool = False
    """Some attempt gave no usage (a cut stream): its tokens are a tokenizer count."""
    transport_error: bool = False
    """The provider could not be reached or answered with an error (not a bad answer)."""


# --- what the models are asked to produce ---------------------------------------------------

MODEL_EXCLUDED_FIELDS = frozenset({"source"})
"""Output fields that code fills in, never the model (the analysts' data source)."""

REASONING_FIELD: dict[str, Any] = {"type": "string", "maxLength": 300}
"""No description: small models copy descriptions into the answer (the instructions are in the
system prompt). Every string and list is bounded, so an answer constrained by the schema
(llama.cpp and others compile it to a grammar) always closes within the token limit."""
TEXT_MAX_CHARS = 120
LIST_MAX_ITEMS = 3
FRACTION_STEP = Decimal("0.1")
"""Grid of a bounded fraction (score, confidence, conviction) in the answer schema."""
POSITIVE_NUMBER_PATTERN = r"^(0\.[0-9]{0,11}[1-9]|[1-9][0-9]{0,11}(\.[0-9]{1,8})?)$"
"""A positive decimal (a price: 0.000001234, 64250.5), written as a JSON string: the only way to
make a grammar enforce "> 0" (llama.cpp ignores exclusiveMinimum on numbers; SmolLM2 answered
-1.0 and 0.0 for prices). The output models parse the string as the number it spells."""
_DROPPED_KEYS = ("title", "default")


def fraction_grid(low: float, high: float) -> list[float]:
    """`low`..`high` in `FRACTION_STEP`s: -1, -0.9, …, 1 (exact decimals, no float noise)."""
    lo, hi = Decimal(str(low)), Decimal(str(high))
    steps = int((hi - lo) / FRACTION_STEP)
    return [float(lo + i * FRACTION_STEP) for i in range(steps + 1)]


def _bounded(prop: dict[str, Any]) -> dict[str, Any]:
    """One property as a model answers it, in a form grammar-constrained decoding can enforce.

    Grammar converters (llama.cpp's GBNF, measured) ignore `minimum`/`maximum` on a `number`:
    SmolLM2 answered `"confidence": -1` for a field bounded 0..1. So a bounded number becomes
    what a grammar does enforce: a small range (score -1..1, confidence 0..1) an enum on a 0.1
    grid, a wide one (size 0..100 %) an integer with bounds, a positive one (a price) a string
    matching `POSITIVE_NUMBER_PATTERN`. Every value these allow is valid for the output model,
    so validation is unchanged. Strings and lists get length bounds."""
    prop = {k: v for k, v in prop.items() if k not in _DROPPED_KEYS}
    if "anyOf" in prop:
        prop["anyOf"] = [_bounded(p) for p in prop["anyOf"]]
    kind = prop.get("type")
    if kind == "number" and prop.get("exclusiveMinimum") == 0 and "maximum" not in prop:
        del prop["exclusiveMinimum"]
        prop.update(type="string", pattern=POSITIVE_NUMBER_PATTERN)
    elif kind == "string" and "enum" not in prop and "pattern" not in prop:
        prop.setdefault("maxLength", TEXT_MAX_CHARS)
    if kind == "number" and "minimum" in prop and "maximum" in prop:
        low, high = prop["minimum"], prop["maximum"]
        if high - low <= 2:
            prop["enum"] = fraction_grid(low, high)
        elif float(low).is_integer() and float(high).is_integer():
            prop["type"] = "integer"
    if kind == "array":
        prop["maxItems"] = min(prop.get("maxItems", LIST_MAX_ITEMS), LIST_MAX_ITEMS)
        if isinstance(prop.get("items"), dict):
            prop["items"] = _bounded(prop["items"])
    return prop


@cache
def answer_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema a model answers in: `reasoning` FIRST (so it streams as it is produced,
    also under constrained decoding), then the output's own fields, all required, nothing else.
    Built from the pydantic model, once per schema."""
    source = schema.model_json_schema()
    props = {
        k: _bounded(v) for k, v in source["properties"].items() if k not in MODEL_EXCLUDED_FIELDS
    }
    out: dict[str, Any] = {
        "title": f"{schema.__name__}Answer",
        "type": "object",
        "properties": {"reasoning": REASONING_FIELD, **props},
        "required": ["reasoning", *props],
        "additionalProperties": False,
    }
    if "$defs" in source:
        out["$defs"] = source["$defs"]
    return out


class ExecutionResult(BaseModel):
    """What the execute node did."""

    status: Literal["skipped", "filled", "rejected_by_human", "no_fill", "error"]
    detail: str = ""
    client_order_id: str | None = None
    trade_id: int | None = None
    side: Literal["buy", "sell"] | None = None
    quantity: float | None = None
    price: float | None = None
    fee: float | None = None
    portfolio_id: int | None = None
