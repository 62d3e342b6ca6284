"""Recording of model responses: sha256(model + full prompt + attempt) → the response, valid or
not, in the `llm_cache` table. It is both the answer cache and the record/replay store.

Every complete response of a metered call is recorded (an invalid answer too: a re-run then
repairs it exactly as before, so identical runs stay identical). A hit makes zero model calls
and is logged with cached=True and zero spend; its call record keeps the recorded tokens and
cost, so a replayed backtest reports the same costs. With `replay` on (LLM_REPLAY) a miss fails
the run instead of calling the model. A stream that broke off is not a response: it is never
recorded. An in-process dict sits in front of the table so a backtest re-reading the same key
does not hit the database.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine


class ReplayMissError(RuntimeError):
    """Replay mode found no recorded response for a call (a RuntimeError: never retried)."""


def cache_key(model: str, prompt_text: str, attempt: int = 0) -> str:
    return hashlib.sha256(f"{model}\x00{attempt}\x00{prompt_text}".encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """One model response as it came: text, tool-call arguments (tool-calling answers), usage
    and what it cost."""

    model: str
    text: str
    args: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    estimated_tokens: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "args": self.args,
            "cost_usd": str(self.cost_usd),
            "estimated_tokens": self.estimated_tokens,
        }


class LLMCache:
    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._memory: dict[str, Recorded] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Recorded | None:
        with self._lock:
            found = self._memory.get(key)
        if found is None and self.engine is not None:
            from persistence.db import session_scope
            from persistence.models import LLMCacheEntry

            with session_scope(self.engine) as session:
                row = session.get(LLMCacheEntry, key)
                if row is not None:
                    body = dict(row.response or {})
                    found = Recorded(
                        model=row.model,
                        text=str(body.get("text", "")),
                        args=body.get("args"),
                        prompt_tokens=row.prompt_tokens,
                        completion_tokens=row.completion_tokens,
                        cost_usd=Decimal(str(body.get("cost_usd", "0"))),
                        estimated_tokens=bool(body.get("estimated_tokens", False)),
                    )
            if found is not None:
                with self._lock:
                    self._memory[key] = found
        with self._lock:
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        return found

    def put(self, key: str, recorded: Recorded) -> None:
        with self._lock:
            self._memory[key] = recorded
        if self.engine is None:
            return
        from sqlalchemy.exc import IntegrityError

        from persistence.db import session_scope
        from persistence.models import LLMCacheEntry

        try:
            with session_scope(self.engine) as session:
                if session.get(LLMCacheEntry, key) is None:
                    session.add(
                        LLMCacheEntry(
                            key=key,
                            model=recorded.model,
                            response=recorded.to_json(),
                            prompt_tokens=recorded.prompt_tokens,
                            completion_tokens=recorded.completion_tokens,
                        )
                    )
        except IntegrityError:
            pass  # a concurrent run stored the same response first
