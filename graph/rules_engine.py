"""The offline model: a transparent, deterministic quant policy producing the same structured
outputs an LLM would, with templated reasoning streamed word by word.

Policy (scores in [-1, 1], confidence in [0, 1]):
- technical: trend = EMA alignment (20/50/200 and price vs EMA200); momentum = RSI distance from
  50 and the MACD histogram; mean reversion = position inside the Bollinger bands (fades the
  extremes); volatility (ATR / price) lowers confidence and sets the stop distance.
- sentiment: Fear & Greed followed in the middle of the range and faded at the extremes, plus
  a small keyword score over headlines (headlines are only counted, never obeyed).
- tokenomics: low/negative emission and a hard cap are mildly bullish; high emission, a low
  circulating share (supply overhang) and scheduled unlocks are bearish. Slow facts → low
  confidence.
- researcher: confidence-weighted blend (technical 0.6, sentiment 0.2, tokenomics 0.2).
- trader: buy on a bullish thesis with conviction ≥ 0.3, sized by conviction within the position
  limit, stop 2×ATR below, take-profit 3×ATR above; sell (part of) a held position on a bearish
  thesis; otherwise hold.
- risk manager: halves the size on low conviction or high volatility; code limits come after.

`RulesChatModel` is this policy as a LangChain chat model: it answers like a tool-calling LLM
(the reasoning as the message text, streamed word by word so callbacks and LangGraph's
`messages` mode see token chunks; the structured answer as one tool call at the end), and
yields to the event loop between words so parallel agents interleave.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel

from core.risk import RiskLimits
from graph.models import Prompt
from graph.schemas import (
    MODEL_EXCLUDED_FIELDS,
    AnalystReport,
    PortfolioView,
    ResearchThesis,
    RiskReview,
    Signal,
    TradeProposal,
    answer_schema,
)
from tools.sentiment import SentimentInputs
from tools.snapshot import IndicatorSnapshot
from tools.tokenomics import TokenomicsInputs

RULES_MODEL = "rules"
SIGNAL_THRESHOLD = 0.15
ENTRY_CONVICTION = 0.3
ANALYST_WEIGHTS = {"technical": 0.6, "sentiment": 0.2, "tokenomics": 0.2}

BULLISH_WORDS = ("surge", "record", "inflow", "approv", "rally", "adopt", "upgrade", "gain")
BEARISH_WORDS = ("hack", "ban", "outflow", "lawsuit", "crash", "exploit", "sell-off", "fraud")


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def _sign(x: float) -> float:
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _signal(score: float) -> Signal:
    if score > SIGNAL_THRESHOLD:
        return "bullish"
    if score < -SIGNAL_THRESHOLD:
        return "bearish"
    return "neutral"


def technical(snap: IndicatorSnapshot) -> tuple[AnalystReport, str]:
    trend = (
        _sign(snap.ema_20 - snap.ema_50)
        + _sign(snap.ema_50 - snap.ema_200)
        + _sign(snap.close - snap.ema_200)
    ) / 3
    rsi_part = _clip((snap.rsi_14 - 50) / 25)
    macd_part = math.tanh(snap.macd_hist / (0.002 * snap.close)) if snap.close else 0.0
    momentum = 0.5 * rsi_part + 0.5 * macd_part
    band = snap.bb_upper - snap.bb_lower
    bb_pos = (snap.close - snap.bb_lower) / band if band > 0 else 0.5
    reversion = _clip(-(bb_pos - 0.5) * 2) if bb_pos < 0.1 or bb_pos > 0.9 else 0.0
    score = round(_clip(0.5 * trend + 0.3 * momentum + 0.2 * reversion), 4)
    atr_pct = snap.atr_14 / snap.close * 100 if snap.close else 0.0
    agreement = sum(1 for part in (trend, momentum) if _sign(part) == _sign(score)) / 2
    confidence = _clip(0.3 + 0.5 * abs(score) + 0.2 * agreement, 0, 1)
    if atr_pct > 3:
        confidence *= 0.8
    confidence = round(confidence, 4)
    signal = _signal(score)
    trend_word = {1.0: "aligned up", -1.0: "aligned down"}.get(trend, "mixed")
    points = [
        f"EMA20 {snap.ema_20:.2f} / EMA50 {snap.ema_50:.2f} / EMA200 {snap.ema_200:.2f}: "
        + trend_word,
        f"RSI14 {snap.rsi_14:.1f}, MACD histogram {snap.macd_hist:+.3f}",
        f"Bollinger position {bb_pos:.2f} (0 = lower band, 1 = upper band)",
        f"ATR14 {snap.atr_14:.2f} = {atr_pct:.2f}% of price",
    ]
    text = (
        f"Trend: price {snap.close:.2f} with EMAs {trend_word} (trend score {trend:+.2f}). "
        f"Momentum: RSI {snap.rsi_14:.1f} and MACD histogram {snap.macd_hist:+.3f} give "
        f"{momentum:+.2f}. Mean reversion: Bollinger position {bb_pos:.2f} gives "
        f"{reversion:+.2f}. Volatility: ATR is {atr_pct:.2f}% of price. "
        f"Blended score {score:+.2f}: {signal}, confidence {confidence:.2f}."
    )
    report = AnalystReport(
        signal=signal,
        score=score,
        confidence=confidence,
        key_points=points,
        summary=f"{signal} ({score:+.2f}) on trend {trend:+.2f}, momentum {momentum:+.2f}",
        source=snap.source,
    )
    return report, text


def sentiment(inputs: SentimentInputs) -> tuple[AnalystReport, str]:
    fg = inputs.fear_greed
    if fg <= 20:
        base, stance = 0.3, "extreme fear: contrarian lean up"
    elif fg >= 80:
        base, stance = -0.3, "extreme greed: contrarian lean down"
    else:
        base, stance = (fg - 50) / 50 * 0.5, "following the crowd mildly"
    bulls = bears = 0
    for headline in inputs.headlines:
        title = headline.title.lower()
        bulls += sum(word in title for word in BULLISH_WORDS)
        bears += sum(word in title for word in BEARISH_WORDS)
    news = _clip((bulls - bears) * 0.1, -0.3, 0.3)
    score = round(_clip(base + news), 4)
    confidence = round(0.25 + 0.25 * min(len(inputs.headlines), 4) / 4, 4)
    signal = _signal(score)
    text = (
        f"Fear & Greed is {fg} ({inputs.fear_greed_label}), {stance} ({base:+.2f}). "
        f"{len(inputs.headlines)} headlines from {inputs.source}: {bulls} bullish and {bears} "
        f"bearish keyword hits ({news:+.2f}); headlines are data, not instructions. "
        f"Score {score:+.2f}: {signal}, confidence {confidence:.2f}."
    )
    report = AnalystReport(
        signal=signal,
        score=score,
        confidence=confidence,
        key_points=[f"Fear & Greed {fg} ({inputs.fear_greed_label})", f"news score {news:+.2f}"],
        summary=f"{signal} ({score:+.2f}) from Fear & Greed {fg}",
        source=inputs.source,
    )
    return report, text


def tokenomics(inputs: TokenomicsInputs) -> tuple[AnalystReport, str]:
    parts: list[tuple[str, float]] = []
    emission = inputs.annual_emission_pct
    if emission is not None:
        if emission <= 1:
            parts.append((f"low emission {emission:.2f}%/yr", 0.2))
        elif emission >= 5:
            parts.append((f"high emission {emission:.2f}%/yr", -0.3))
        else:
            parts.append((f"moderate emission {emission:.2f}%/yr", 0.0))
    if inputs.max_supply:
        parts.append((f"hard cap {inputs.max_supply:,.0f}", 0.1))
    ratio = inputs.circulating_ratio
    if ratio is not None and ratio < 0.6:
        parts.append((f"only {ratio:.0%} of supply circulating (overhang)", -0.2))
    if inputs.unlocks:
        parts.append(
            (f"{len(inputs.unlocks)} scheduled unlock(s)", -0.1 * min(len(inputs.unlocks), 2))
        )
    score = round(_clip(sum(value for _, value in parts)), 4)
    confidence = 0.35
    signal = _signal(score)
    listed = "; ".join(f"{label} ({value:+.2f})" for label, value in parts) or "no supply facts"
    mcap = f"${inputs.market_cap_usd / 1e9:,.1f}B" if inputs.market_cap_usd else "unknown"
    text = (
        f"{inputs.asset} supply facts from {inputs.source}: {listed}. Market cap {mcap}. "
        f"Supply changes slowly, so confidence stays low. "
        f"Score {score:+.2f}: {signal}, confidence {confidence:.2f}."
    )
    report = AnalystReport(
        signal=signal,
        score=score,
        confidence=confidence,
        key_points=[label for label, _ in parts],
        summary=f"{signal} ({score:+.2f}) on supply and emission",
        source=inputs.source,
    )
    return report, text


def researcher(reports: dict[str, AnalystReport]) -> tuple[ResearchThesis, str]:
    weight_sum = sum(ANALYST_WEIGHTS[k] * r.confidence for k, r in reports.items())
    combined = (
        sum(ANALYST_WEIGHTS[k] * r.confidence * r.score for k, r in reports.items()) / weight_sum
        if weight_sum > 0
        else 0.0
    )
    direction = _signal(combined)
    agreeing = sum(1 for r in reports.values() if r.signal == direction) / max(len(reports), 1)
    conviction = round(_clip(abs(combined) * 1.5 * (0.5 + 0.5 * agreeing), 0, 1), 4)
    risks = [
        f"{name} disagrees ({r.signal})"
        for name, r in sorted(reports.items())
        if r.signal not in (direction, "neutral")
    ]
    low_conf = [name for name, r in sorted(reports.items()) if r.confidence < 0.3]
    if low_conf:
        risks.append(f"low confidence from {', '.join(low_conf)}")
    text = (
        "Weighing "
        + ", ".join(
            f"{k} {r.signal} {r.score:+.2f}×{r.confidence:.2f}" for k, r in sorted(reports.items())
        )
        + f". Confidence-weighted view {combined:+.2f}: {direction} with conviction "
        f"{conviction:.2f}. Risks: {'; '.join(risks) or 'none flagged'}."
    )
    thesis = ResearchThesis(
        direction=direction,
        conviction=conviction,
        key_risks=risks,
        summary=f"{direction} ({combined:+.2f}), conviction {conviction:.2f}",
    )
    return thesis, text


def trader(
    thesis: ResearchThesis,
    snap: IndicatorSnapshot,
    portfolio: PortfolioView,
    limits: RiskLimits,
) -> tuple[TradeProposal, str]:
    price = snap.close
    held = portfolio.position_value(snap.symbol)
    room_pct = limits.max_position_pct - held / portfolio.equity * 100
    if thesis.direction == "bullish" and thesis.conviction >= ENTRY_CONVICTION and room_pct > 0.5:
        size = round(min(limits.max_position_pct * thesis.conviction, room_pct), 2)
        stop = max(price - 2 * snap.atr_14, price * (1 - limits.max_stop_distance_pct / 100))
        take = price + 3 * snap.atr_14
        proposal = TradeProposal(
            action="buy",
            size_pct=size,
            entry=price,
            stop_loss=round(stop, 8),
            take_profit=round(take, 8),
            rationale=f"bullish thesis, conviction {thesis.conviction:.2f}",
        )
        text = (
            f"Thesis is bullish with conviction {thesis.conviction:.2f} and {room_pct:.1f}% of "
            f"position room left. Buy {size:.2f}% of equity at {price:.2f}, stop {stop:.2f} "
            f"(2×ATR, capped at {limits.max_stop_distance_pct}%), target {take:.2f} (3×ATR)."
        )
    elif thesis.direction == "bearish" and thesis.conviction >= ENTRY_CONVICTION and held > 0:
        size = 100.0 if thesis.conviction > 0.6 else 50.0
        proposal = TradeProposal(
            action="sell",
            size_pct=size,
            entry=price,
            rationale=f"bearish thesis, conviction {thesis.conviction:.2f}",
        )
        text = (
            f"Thesis is bearish with conviction {thesis.conviction:.2f} and we hold "
            f"{held:.2f} of {snap.symbol}. Sell {size:.0f}% of the position at {price:.2f}."
        )
    else:
        why = (
            "no position room"
            if thesis.direction == "bullish" and room_pct <= 0.5
            else "nothing to sell"
            if thesis.direction == "bearish" and held <= 0
            else f"{thesis.direction} thesis with conviction {thesis.conviction:.2f}"
        )
        proposal = TradeProposal(action="hold", size_pct=0, rationale=why)
        text = f"Hold: {why}. No order."
    return proposal, text


def risk_manager(
    proposal: TradeProposal,
    thesis: ResearchThesis,
    snap: IndicatorSnapshot,
) -> tuple[RiskReview, str]:
    if proposal.action == "hold":
        review = RiskReview(verdict="approve", size_pct=0, reasons=["hold: nothing to risk"])
        return review, "The trader holds; nothing to approve."
    size = proposal.size_pct
    reasons: list[str] = []
    atr_pct = snap.atr_14 / snap.close * 100 if snap.close else 0.0
    if proposal.action == "buy" and thesis.conviction < 0.4:
        size /= 2
        reasons.append(f"conviction {thesis.conviction:.2f} < 0.40: size halved")
    if proposal.action == "buy" and atr_pct > 4:
        size /= 2
        reasons.append(f"ATR {atr_pct:.2f}% of price > 4%: size halved")
    verdict = "resize" if reasons else "approve"
    if not reasons:
        reasons.append("within desk guidelines")
    review = RiskReview(
        verdict=verdict,
        size_pct=round(size, 2),
        stop_loss=proposal.stop_loss,
        take_profit=proposal.take_profit,
        reasons=reasons,
    )
    text = (
        f"Reviewing a {proposal.action} of {proposal.size_pct:.2f}%: {'; '.join(reasons)}. "
        f"Verdict {verdict} at {review.size_pct:.2f}%. Hard limits are enforced in code next."
    )
    return review, text


_DISPATCH: dict[str, Callable[[dict[str, Any]], tuple[BaseModel, str]]] = {
    "technical": lambda f: technical(f["snapshot"]),
    "sentiment": lambda f: sentiment(f["sentiment"]),
    "tokenomics": lambda f: tokenomics(f["tokenomics"]),
    "researcher": lambda f: researcher(f["reports"]),
    "trader": lambda f: trader(f["thesis"], f["snapshot"], f["portfolio"], f["limits"]),
    "risk_manager": lambda f: risk_manager(f["proposal"], f["thesis"], f["snapshot"]),
}


_WORDS = re.compile(r"\S+\s*|\s+")
NO_FACTS_REPLY = (
    "The offline rules engine answers the desk's agents only (it reads their typed facts); "
    "it does not chat."
)


def rules_answer(agent: str, facts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(reasoning text, tool-call arguments: the answer schema's fields, reasoning first)."""
    try:
        rule = _DISPATCH[agent]
    except KeyError:
        raise ValueError(f"rules engine has no policy for agent {agent!r}") from None
    output, text = rule(facts)
    return text, {"reasoning": text, **output.model_dump(exclude=set(MODEL_EXCLUDED_FIELDS))}


class RulesChatModel(BaseChatModel):
    """The policy above as a deterministic LangChain chat model (no I/O, free).

    Call it with the agent and the prompt's facts as call kwargs (`RulesModelClient` binds
    them): `model.bind(agent="technical", facts={...}, schema=AnalystReport)`. Called without
    them (a chat turn), it answers `NO_FACTS_REPLY`."""

    model_name: str = "rules"

    @property
    def _llm_type(self) -> str:
        return "cryptofirm-rules"

    def _answer(self, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str]:
        agent, facts = kwargs.get("agent"), kwargs.get("facts")
        if agent is None or facts is None:
            return NO_FACTS_REPLY, None, ""
        schema = kwargs.get("schema")
        tool = answer_schema(schema)["title"] if schema is not None else f"{agent}_answer"
        text, args = rules_answer(agent, facts)
        return text, args, tool

    def _message(self, kwargs: dict[str, Any]) -> AIMessage:
        text, args, tool = self._answer(kwargs)
        calls = [] if args is None else [{"name": tool, "args": args, "id": f"call_{tool}"}]
        return AIMessage(content=text, tool_calls=calls, name=kwargs.get("agent"))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._message(kwargs))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, **kwargs)

    def _chunks(self, kwargs: dict[str, Any]) -> Iterator[ChatGenerationChunk]:
        text, args, tool = self._answer(kwargs)
        name = kwargs.get("agent")
        for piece in _WORDS.findall(text):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece, name=name))
        calls = []
        if args is not None:
            calls = [{"name": tool, "args": json.dumps(args), "id": f"call_{tool}", "index": 0}]
        last = AIMessageChunk(content="", name=name, tool_call_chunks=calls)
        yield ChatGenerationChunk(message=last, generation_info={"finish_reason": "stop"})

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(kwargs):
            yield chunk
            await asyncio.sleep(0)  # let the other analysts' streams interleave


# LangChain inspects `_generate`'s signature on every call (does it take a run_manager?); a
# precomputed `__signature__` answers that at once (a third of a call's cost otherwise).
for _method in (RulesChatModel._generate, RulesChatModel._agenerate):
    _method.__signature__ = inspect.signature(_method)  # type: ignore[attr-defined,union-attr]


class RulesModelClient:
    """`ModelClient` over `RulesChatModel`: free, unmetered, deterministic; no I/O."""

    metered = False
    provider = "rules"
    in_process = True
    """No I/O: `call_agent` may invoke it synchronously when nobody streams."""

    def __init__(self) -> None:
        self.model = RulesChatModel()

    def model_for(self, agent: str) -> str:
        return RULES_MODEL

    def chat_model(self, agent: str, prompt: Prompt, schema: type[BaseModel]) -> Any:
        return self.model.bind(agent=agent, facts=prompt.facts, schema=schema)
