"""Stand-ins for the desk tests: hand-built snapshots and a scripted, delayable model client
plugged in at the `ModelClient` seam: its chat model is a LangChain `BaseChatModel` that answers
with `script(agent, prompt, attempt)`, streamed word by word, with usage in the last chunk."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel, ConfigDict

from core.settings import ModelPrice, Settings
from graph.context import DeskContext, PortfolioView
from graph.llm import stream_words
from graph.models import Prompt
from graph.rules_engine import RulesModelClient
from tools.sentiment import Headline, SentimentInputs
from tools.snapshot import IndicatorSnapshot, RecentHistory
from tools.tokenomics import PointInTimeTokenomicsProvider

NOW = datetime(2024, 4, 1, 12, tzinfo=UTC)
FAKE_MODEL = "fake-model"
FAKE_PRICE = ModelPrice(input_per_mtok=Decimal("1.00"), output_per_mtok=Decimal("2.00"))


def snapshot(
    *,
    close: float = 100.0,
    trend: str = "up",
    atr: float = 1.0,
    as_of: datetime = NOW,
    symbol: str = "BTCUSDT",
    interval: str = "1h",
) -> IndicatorSnapshot:
    """A coherent snapshot: `up` = EMAs aligned bullishly with positive momentum."""
    sign = 1 if trend == "up" else -1
    return IndicatorSnapshot(
        symbol=symbol,
        interval=interval,
        as_of=as_of,
        bars_of_history=500,
        source="store",
        open=close * (1 - 0.002 * sign),
        high=close * 1.004,
        low=close * 0.996,
        close=close,
        volume=10.0,
        rsi_14=50 + 12 * sign,
        macd=0.5 * sign,
        macd_signal=0.2 * sign,
        macd_hist=0.3 * sign,
        ema_20=close * (1 - 0.01 * sign),
        ema_50=close * (1 - 0.02 * sign),
        ema_200=close * (1 - 0.05 * sign),
        bb_upper=close * 1.03,
        bb_middle=close,
        bb_lower=close * 0.97,
        atr_14=atr,
        volume_sma_20=9.0,
        realized_vol_20=0.5,
        history=RecentHistory(
            return_1_bar=0.002 * sign,
            return_24_bars=0.02 * sign,
            return_72_bars=0.05 * sign,
            high_24_bars=close * 1.01,
            low_24_bars=close * 0.97,
            high_72_bars=close * 1.02,
            low_72_bars=close * 0.9,
            closes_last_12=[close] * 12,
            ema20_slope_5_bars=0.004 * sign,
            bars_above_ema200_of_last_50=45 if sign > 0 else 5,
        ),
    )


class StaticSentiment:
    name = "static"

    def __init__(self, fear_greed: int = 55, headlines: list[str] | None = None) -> None:
        self.fear_greed = fear_greed
        self.headlines = headlines or ["Markets steady"]

    def get(self, symbol: str, *, at: datetime | None = None) -> SentimentInputs:
        return SentimentInputs(
            symbol=symbol,
            fear_greed=self.fear_greed,
            fear_greed_label="Greed" if self.fear_greed > 50 else "Fear",
            headlines=[Headline(title=t) for t in self.headlines],
            source="store",
        )


def rules_text_reply(agent: str, prompt: Prompt) -> str:
    """What a well-behaved LLM would answer: the rules engine's reasoning + a JSON block."""
    from graph.rules_engine import _DISPATCH

    output, text = _DISPATCH[agent](prompt.facts)
    return f"{text}\n```json\n{output.model_dump_json()}\n```"


Script = Callable[[str, Prompt, int], str]


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class CallTrace:
    agent: str
    start: float
    end: float
    prompt: Prompt


class ScriptedChatModel(BaseChatModel):
    """The fake client's chat model: asks its owner for the text of each call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    owner: Any

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _usage(self) -> dict[str, int]:
        u = self.owner.usage
        return {
            "input_tokens": u.prompt_tokens,
            "output_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("the fake is async only")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = await self.owner.answer(kwargs["agent"], kwargs["prompt"])
        message = AIMessage(content=text, usage_metadata=self._usage())  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Any:
        text = await self.owner.answer(kwargs["agent"], kwargs["prompt"])
        pieces: list[str] = []
        stream_words(text, pieces.append)
        for piece in pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            await asyncio.sleep(0)
        usage: Any = self._usage()
        last = AIMessageChunk(content="", usage_metadata=usage)
        yield ChatGenerationChunk(message=last, generation_info={"finish_reason": "stop"})


@dataclass
class FakeModelClient:
    """Metered fake: answers with `script(agent, prompt, attempt)` (default: rules-engine text
    in LLM format), after `delay_s`, streamed word by word."""

    script: Script | None = None
    delay_s: float = 0.0
    usage: Usage = field(default_factory=lambda: Usage(prompt_tokens=100, completion_tokens=50))
    metered: bool = True
    model: str = FAKE_MODEL
    provider: str = "fake"
    calls: list[CallTrace] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    """Agents whose call reached the model (also those cancelled before answering)."""
    raise_for: dict[str, BaseException] = field(default_factory=dict)
    _attempts: Counter[str] = field(default_factory=Counter, repr=False)
    _chat: Any = field(default=None, repr=False)

    def model_for(self, agent: str) -> str:
        return self.model

    def attempts(self, agent: str) -> int:
        # A counter, not a scan of `calls`: a benchmark's thousands of calls stay O(1) each.
        return self._attempts[agent]

    def _trace(self, agent: str, start: float, prompt: Prompt) -> None:
        self.calls.append(CallTrace(agent, start, time.perf_counter(), prompt))
        self._attempts[agent] += 1

    def chat_model(self, agent: str, prompt: Prompt, schema: type[BaseModel]) -> Any:
        if self._chat is None:
            self._chat = ScriptedChatModel(owner=self)
        return self._chat.bind(agent=agent, prompt=prompt)

    async def answer(self, agent: str, prompt: Prompt) -> str:
        start = time.perf_counter()
        self.started.append(agent)
        attempt = self.attempts(agent)
        if agent in self.raise_for:
            exc = self.raise_for.pop(agent)
            self._trace(agent, start, prompt)
            raise exc
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        text = (self.script or (lambda a, p, n: rules_text_reply(a, p)))(agent, prompt, attempt)
        self._trace(agent, start, prompt)
        return text


def fake_settings(tmp_path: Any = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'desk.db'}" if tmp_path else "sqlite://",
        "data_source": "synthetic",
        "llm_prices": {
            "rules": ModelPrice(input_per_mtok=Decimal(0), output_per_mtok=Decimal(0)),
            FAKE_MODEL: FAKE_PRICE,
        },
    }
    values.update(overrides)
    return Settings(**values)


def desk_context(client: Any = None, **kwargs: Any) -> DeskContext:
    kwargs.setdefault("settings", fake_settings())
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("sentiment", StaticSentiment())
    kwargs.setdefault("tokenomics", PointInTimeTokenomicsProvider())  # NOW predates the table
    kwargs.setdefault("portfolio", PortfolioView.fresh(10_000))
    return DeskContext(model_client=client or RulesModelClient(), **kwargs)


def state_in(snap: IndicatorSnapshot | None = None) -> dict[str, Any]:
    snap = snap or snapshot()
    return {"symbol": snap.symbol, "interval": snap.interval, "snapshot": snap}


def json_reply(reasoning: str, payload: dict[str, Any]) -> str:
    return f"{reasoning}\n```json\n{json.dumps(payload)}\n```"


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


class StaticMarketData:
    def __init__(self, snap: IndicatorSnapshot | None = None) -> None:
        self.snap = snap or snapshot()
        self.loads = 0

    def snapshot(self, symbol: str, interval: str) -> IndicatorSnapshot:
        self.loads += 1
        return self.snap


def overrides(client: Any = None, **kw: Any) -> dict[str, Any]:
    """Context overrides for `run_analysis`: fake model, fixed snapshot, static sentiment."""
    values: dict[str, Any] = {
        "model_client": client or RulesModelClient(),
        "market_data": StaticMarketData(),
        "sentiment": StaticSentiment(),
        "tokenomics": PointInTimeTokenomicsProvider(),
        "now": NOW,
    }
    values.update(kw)
    return values


async def collect(events: Any) -> list[Any]:
    return [event async for event in events]
