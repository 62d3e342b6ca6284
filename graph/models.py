"""The model seam. Everything that speaks is a LangChain chat model (`BaseChatModel`): agents
stream it inside their graph node, so LangGraph's `messages` stream mode yields its token
chunks with the node in the metadata, and every LangChain callback fires.

A `ModelClient` hands `graph.llm.call_agent` the runnable for one call:

- `chat_model(agent, prompt, schema)` → a chat model (or a `.bind(...)` of one) to stream with
  the prompt's messages. `graph.rules_engine.RulesModelClient` binds the offline engine to the
  agent and the prompt's typed facts; `OpenAIChatClient` binds ChatOpenAI to the provider's
  structured-output mechanism for `schema` (see `StructuredOutput`).
- `metered`: calls cost tokens/money (budget, cost, answer cache/recording apply).
- `provider`: the circuit breaker's key (one per provider endpoint).

`graph.context.client_from_settings` picks the client from settings; tests plug fakes in here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from core.settings import LLMProvider, Settings
from graph.schemas import answer_schema

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

    ChatRunnable = Runnable[LanguageModelInput, Any] | BaseChatModel

ANALYSTS = ("technical", "sentiment", "tokenomics")
DECIDERS = ("researcher", "trader", "risk_manager")
AGENTS = (*ANALYSTS, *DECIDERS)
CHEAP_TIER = frozenset({*ANALYSTS, "intake"})
"""Agents on the cheap model: the analysts and the chat intake (graph/chat_extract.py)."""

DEFAULT_BASE_URLS: dict[LLMProvider, str] = {
    LLMProvider.openai: "https://api.openai.com/v1",
    LLMProvider.openrouter: "https://openrouter.ai/api/v1",
    LLMProvider.ollama: "http://127.0.0.1:11434/v1",
}
FREE_PROVIDERS = frozenset({LLMProvider.rules, LLMProvider.ollama})
"""Providers whose models cost nothing: no price is needed (analyses and backtests)."""


class ModelConfigError(ValueError):
    """The model settings cannot work; names the setting. The CLI prints it and exits 2; the
    API answers 422 naming it. Never a traceback."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StructuredOutput(StrEnum):
    """How a provider is asked for the answer's shape.

    json_schema: `response_format` json_schema (OpenAI, OpenRouter, Ollama ≥ 0.5, llama.cpp,
      vLLM…: constrained decoding where the server supports it).
    tool_calling: the schema as the one forced tool (providers without json_schema).
    prompt: the schema in the system prompt and the JSON parsed from the text (a provider with
      neither).
    """

    json_schema = "json_schema"
    tool_calling = "tool_calling"
    prompt = "prompt"


REPAIR_NOTE = (
    "Your previous answer did not match the required JSON schema.\n"
    "Validation error: {error}\n"
    "Reply again with ONE JSON object matching the schema, the `reasoning` field first."
)


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt plus the typed facts it was rendered from.

    `system` + `user` (+ `history` on a repair) is what a model sees and what the recording key
    and budget estimate are computed from; `facts` lets the rules engine read the same inputs
    without parsing text back."""

    system: str
    user: str
    facts: dict[str, Any] = field(default_factory=dict, compare=False)
    history: tuple[tuple[str, str], ...] = ()

    @cached_property
    def text(self) -> str:
        """Read for the recording key: rendered once."""
        parts = [self.system, self.user, *(f"{role}: {content}" for role, content in self.history)]
        return "\n\n".join(parts)

    @property
    def texts(self) -> list[str]:
        """One text per chat message (for the token bound)."""
        return [self.system, self.user, *(content for _, content in self.history)]

    def messages(self) -> list[BaseMessage]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        out: list[BaseMessage] = [SystemMessage(self.system), HumanMessage(self.user)]
        for role, content in self.history:
            out.append(AIMessage(content) if role == "assistant" else HumanMessage(content))
        return out

    def with_repair(self, bad_output: str, error: str) -> Prompt:
        return Prompt(
            self.system,
            self.user,
            self.facts,
            (*self.history, ("assistant", bad_output), ("user", REPAIR_NOTE.format(error=error))),
        )


class ModelClient(Protocol):
    metered: bool
    """True when calls cost tokens/money: budgets, cost and the answer cache apply."""

    provider: str
    """Circuit-breaker key: one per provider endpoint."""

    def model_for(self, agent: str) -> str: ...

    def chat_model(self, agent: str, prompt: Prompt, schema: type[BaseModel]) -> ChatRunnable:
        """The LangChain chat model (bound for this call) that answers `prompt`."""
        ...


def json_schema_format(schema: type[BaseModel]) -> dict[str, Any]:
    """OpenAI-style `response_format` for `schema`'s answer (reasoning first)."""
    body = answer_schema(schema)
    return {
        "type": "json_schema",
        "json_schema": {"name": body["title"], "schema": body, "strict": False},
    }


def answer_tool(schema: type[BaseModel]) -> dict[str, Any]:
    """The answer as one OpenAI-style function tool (for `tool_calling`)."""
    body = answer_schema(schema)
    return {
        "type": "function",
        "function": {
            "name": body["title"],
            "description": f"Submit your answer ({schema.__name__})",
            "parameters": body,
        },
    }


def provider_key(settings: Settings) -> str:
    base = settings.llm_base_url or DEFAULT_BASE_URLS.get(settings.llm_provider, "")
    return f"{settings.llm_provider.value}:{base}"


class OpenAIChatClient:
    """OpenAI, OpenRouter, Ollama and any OpenAI-compatible server through langchain-openai's
    ChatOpenAI (custom base_url, `stream_usage=True` so usage arrives in the last chunk)."""

    metered = True

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import ChatOpenAI

        provider = settings.llm_provider
        base_url = settings.llm_base_url or DEFAULT_BASE_URLS.get(provider)
        if provider is LLMProvider.openai_compatible and not base_url:
            raise ModelConfigError("LLM_BASE_URL", "required for llm_provider=openai_compatible")
        api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        if api_key is None and provider is LLMProvider.ollama:
            api_key = "ollama"  # Ollama ignores the key but the client insists on one
        if api_key is None:
            raise ModelConfigError("LLM_API_KEY", f"required for llm_provider={provider.value}")
        for tier in (settings.llm_model_cheap, settings.llm_model_strong):
            if tier not in settings.llm_prices and provider not in FREE_PROVIDERS:
                raise ModelConfigError(
                    "LLM_PRICES",
                    f"no price for model {tier!r}; add it so costs and budgets can be computed",
                )
        self.provider = provider_key(settings)
        self.structured = StructuredOutput(settings.llm_structured_output)
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
                max_retries=settings.llm_max_retries,
                stream_usage=True,
                seed=settings.llm_seed,
                frequency_penalty=settings.llm_frequency_penalty,
            )
            for name in {self.cheap, self.strong}
        }

    def model_for(self, agent: str) -> str:
        return self.cheap if agent in CHEAP_TIER else self.strong

    def chat_model(self, agent: str, prompt: Prompt, schema: type[BaseModel]) -> ChatRunnable:
        model = self._models[self.model_for(agent)]
        if self.structured is StructuredOutput.json_schema:
            # Sent as an extra body field: langchain-openai then streams the plain completion
            # (a `response_format` argument switches it to the SDK's parsing stream, which
            # raises on a length cut and drops the usage), and validation plus the repair of
            # an invalid answer stay with `call_agent`.
            return model.bind(extra_body={"response_format": json_schema_format(schema)})
        if self.structured is StructuredOutput.tool_calling:
            tool = answer_tool(schema)
            return model.bind_tools([tool], tool_choice=tool["function"]["name"])
        return model


def monotonic_ms() -> float:
    return time.perf_counter() * 1000.0
