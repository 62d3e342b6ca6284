"""Answer cache: sha256(model + full prompt) → the model's reply, in the `llm_cache` table.

A hit makes zero model calls and is logged with cached=True and zero cost. An in-process dict
sits in front of the table so a backtest re-reading the same key does not hit the database.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

from graph.models import ModelReply, Usage

if TYPE_CHECKING:
    from sqlalchemy import Engine


def cache_key(model: str, prompt_text: str) -> str:
    return hashlib.sha256(f"{model}\x00{prompt_text}".encode()).hexdigest()


class LLMCache:
    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._memory: dict[str, ModelReply] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> ModelReply | None:
        with self._lock:
            reply = self._memory.get(key)
        if reply is None and self.engine is not None:
            from persistence.db import session_scope
            from persistence.models import LLMCacheEntry

            with session_scope(self.engine) as session:
                row = session.get(LLMCacheEntry, key)
                if row is not None:
                    reply = ModelReply(
                        text=str(row.response["text"]),
                        model=row.model,
                        usage=Usage(
                            prompt_tokens=row.prompt_tokens,
                            completion_tokens=row.completion_tokens,
                        ),
                    )
            if reply is not None:
                with self._lock:
                    self._memory[key] = reply
        with self._lock:
            if reply is None:
                self.misses += 1
            else:
                self.hits += 1
        return reply

    def put(self, key: str, reply: ModelReply) -> None:
        stored = ModelReply(text=reply.text, model=reply.model, usage=reply.usage)
        with self._lock:
            self._memory[key] = stored
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
                            model=reply.model,
                            response={"text": reply.text},
                            prompt_tokens=reply.usage.prompt_tokens,
                            completion_tokens=reply.usage.completion_tokens,
                        )
                    )
        except IntegrityError:
            pass  # a concurrent run stored the same answer first; both are identical by key
