"""Circuit breaker per model provider: after `threshold` consecutive transport failures
(unreachable, HTTP error, timeout, a stream cut off) within a run — or a whole backtest, which
shares one breaker over all its decisions — the provider is not called again; every later
agent fails fast with the reason instead of waiting out its timeouts. A valid exchange (any
answer that arrived complete, even an invalid one) resets the count.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class ProviderUnavailableError(RuntimeError):
    """The breaker is open: raised instead of calling the provider."""


@dataclass
class CircuitBreaker:
    threshold: int = 3
    _failures: dict[str, int] = field(default_factory=dict)
    _last_error: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, provider: str) -> None:
        with self._lock:
            failures = self._failures.get(provider, 0)
            last = self._last_error.get(provider, "")
        if failures >= self.threshold:
            raise ProviderUnavailableError(
                f"circuit open for {provider}: {failures} consecutive transport failures, "
                f"last: {last}; not calling it again in this run"
            )

    def failure(self, provider: str, error: str) -> None:
        with self._lock:
            self._failures[provider] = self._failures.get(provider, 0) + 1
            self._last_error[provider] = error

    def success(self, provider: str) -> None:
        with self._lock:
            self._failures[provider] = 0

    def is_open(self, provider: str) -> bool:
        with self._lock:
            return self._failures.get(provider, 0) >= self.threshold
