"""The model seam: every agent talks to a `ModelClient`, never to a provider SDK directly.

`client_from_settings` picks the implementation from `settings.llm_provider`:
`rules` → `graph.rules_engine.RulesModelClient` (offline, deterministic, free); anything else →
`OpenAIChatClient` (langchain-openai's ChatOpenAI with a base_url: OpenAI, OpenRouter, Ollama,
any OpenAI-compatible server). Analysts use the cheap tier, the other three the strong tier.
Tests plug a fake client in here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel

from core.settings import LLMProvider, Settings

TokenCallback = Callable[[str], None]

ANALYSTS = ("technical", "sentiment", "tokenomics")
DECIDERS = ("researcher", "trader", "risk_manager")
AGENTS = (*ANALYSTS, *DECIDERS)

DEFAULT_BASE_URLS: dict[LLMProvider, str] = {
    LLMProvider.openrouter: "https://openrouter.ai/api/v1",
    LLMProvider.ollama: "http://127.0.0.1:11434/v1",
}


class ModelConfigError(ValueError):
    """The model settings cannot work; the message names the setting."""


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt plus the typed facts it was rendered from.

    `system` + `user` (+ `history` on a repair) is what an LLM sees and what the cache key and
    budget estimate are computed from; `facts` lets the rules engine read the same inputs
    without parsing text back."""

    system: str
    user: str
    facts: dict[str, Any] = field(default_factory=dict, compare=False)
    history: tuple[tuple[str, str], ...] = ()

    @cached_property
    def text(self) -> str:
        """Read for the budget estimate and the cache key: rendered once."""
        parts = [self.system, self.user, *(f"{role}: {content}" for role, content in self.history)]
        return "\n\n".join(parts)

    def with_repair(self, bad_output: str, error: str) -> Prompt:
        note = (
            "Your previous answer did not match the required JSON schema.\n"
            f"Validation error: {error}\n"
            "Reply again: brief reasoning, then ONE ```json block with a valid object."
        )
        return Prompt(
            self.system,
            self.user,
            self.facts,
            (*self.history, ("assistant", bad_output), ("user", note)),
        )


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ModelReply(BaseModel):
    """Raw model output. `parsed` is set only by clients that produce structured output
    natively (the rules engine); otherwise the caller parses `text`."""

    model_config = {"arbitrary_types_allowed": True}

    text: str
    usage: Usage = Usage()
    model: str
    parsed: BaseModel | None = None


class ModelClient(Protocol):
    metered: bool
    """True when calls cost tokens/money: budgets, cost and the answer cache apply."""

    def model_for(self, agent: str) -> str: ...

    async def generate(
        self,
        agent: str,
        prompt: Prompt,
        schema: type[BaseModel],
        on_token: TokenCallback | None = None,
    ) -> ModelReply: ...


class OpenAIChatClient:
    """Any OpenAI-protocol chat endpoint through langchain-openai, streaming tokens."""

    metered = True

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import ChatOpenAI

        provider = settings.llm_provider
        base_url = settings.llm_base_url or DEFAULT_BASE_URLS.get(provider)
        if provider is LLMProvider.openai_compatible and not base_url:
            raise ModelConfigError("LLM_BASE_URL is required for llm_provider=openai_compatible")
        api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        if api_key is None and provider is LLMProvider.ollama:
            api_key = "ollama"  # Ollama ignores the key but the client insists on one
        if api_key is None:
            raise ModelConfigError(f"LLM_API_KEY is required for llm_provider={provider.value}")
        for tier in (settings.llm_model_cheap, settings.llm_model_strong):
            if tier not in settings.llm_prices and provider is not LLMProvider.ollama:
                raise ModelConfigError(
                    f"no price for model {tier!r} in LLM_PRICES; add it so costs and budgets "
                    "can be computed"
                )
        self.cheap = settings.llm_model_cheap
        self.strong = settings.llm_model_strong
        self._models = {
            name: ChatOpenAI(
                model=name,
                base_url=base_url,
                api_key=api_key,  # type: ignore[arg-type]
                temperature=settings.llm_temperature,
                max_completion_tokens=settings.llm_max_output_tokens,
                timeout=settings.llm_timeout_s,
                max_retries=2,
                stream_usage=True,
            )
            for name in {self.cheap, self.strong}
        }

    def model_for(self, agent: str) -> str:
        return self.cheap if agent in ANALYSTS else self.strong

    async def generate(
        self,
        agent: str,
        prompt: Prompt,
        schema: type[BaseModel],
        on_token: TokenCallback | None = None,
    ) -> ModelReply:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

        model_name = self.model_for(agent)
        messages: list[BaseMessage] = [SystemMessage(prompt.system), HumanMessage(prompt.user)]
        for role, content in prompt.history:
            messages.append(AIMessage(content) if role == "assistant" else HumanMessage(content))
        text_parts: list[str] = []
        usage = Usage()
        async for chunk in self._models[model_name].astream(messages):
            piece = chunk.text if isinstance(chunk.text, str) else str(chunk.content)
            if piece:
                text_parts.append(piece)
                if on_token is not None:
                    on_token(piece)
            meta = getattr(chunk, "usage_metadata", None)
            if meta:
                usage = Usage(
                    prompt_tokens=usage.prompt_tokens + int(meta.get("input_tokens", 0)),
                    completion_tokens=usage.completion_tokens + int(meta.get("output_tokens", 0)),
                )
        return ModelReply(text="".join(text_parts), usage=usage, model=model_name)


def client_from_settings(settings: Settings) -> ModelClient:
    if settings.llm_provider is LLMProvider.rules:
        from graph.rules_engine import RulesModelClient

        return RulesModelClient()
    return OpenAIChatClient(settings)


def monotonic_ms() -> float:
    return time.perf_counter() * 1000.0
