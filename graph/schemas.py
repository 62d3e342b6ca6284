"""Structured outputs of the six agents and of the code that wraps them.

Every model (the rules engine or an LLM) must produce exactly these shapes; a reply that does
not validate gets one repair attempt and then the agent's safe fallback (see `graph.llm`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Signal = Literal["bullish", "bearish", "neutral"]
Action = Literal["buy", "sell", "hold"]


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
    entry: float | None = Field(default=None, gt=0)
    stop_loss: float | None = Field(default=None, gt=0)
    take_profit: float | None = Field(default=None, gt=0)
    rationale: str = ""


class RiskReview(BaseModel):
    """The LLM risk manager's verdict. It may only shrink or reject: code enforces that."""

    model_config = ConfigDict(extra="ignore")

    verdict: Literal["approve", "resize", "reject"]
    size_pct: float = Field(ge=0, le=100)
    stop_loss: float | None = Field(default=None, gt=0)
    take_profit: float | None = Field(default=None, gt=0)
    reasons: list[str] = Field(default_factory=list, max_length=8)


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
    """One agent call as the graph saw it: the source of `agent_output` events and run totals."""

    agent: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cached: bool = False
    fallback: bool = False
    repaired: bool = False
    error: str | None = None


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
