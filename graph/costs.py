"""Cost of model calls and the buffered `agent_logs` writer.

Rows of free calls (the rules engine, answer-cache hits) are buffered in memory and written in
one batch (`flush`) at the end of a run or every `batch_size` rows, so the hot path of a
backtest never waits on the database; a call that spent tokens or money is written as soon as
it returns (`unsaved_spend`), since the budgets count what `agent_logs` holds.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.metrics import observe_llm_call
from core.settings import ModelPrice, Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

MTOK = Decimal(1_000_000)


def model_entry(settings: Settings, model: str) -> ModelPrice | None:
    """The model's entry in `settings.llm_prices`: price, context length, training cutoff."""
    return settings.llm_prices.get(model)


def training_cutoff(settings: Settings, model: str) -> date | None:
    """The model's knowledge cutoff when known (the memorisation guard of backtests)."""
    entry = model_entry(settings, model)
    return entry.training_cutoff if entry is not None else None


def cost_usd(settings: Settings, model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """USD for one call from `settings.llm_prices`. A model without a price costs 0 only for
    local providers (the client refuses to start for a priced provider without one)."""
    price = settings.llm_prices.get(model)
    if price is None:
        return Decimal(0)
    return (price.input_per_mtok * prompt_tokens + price.output_per_mtok * completion_tokens) / MTOK


def memorisation_note(settings: Settings, start: datetime, end: datetime) -> str | None:
    """A warning when a backtest window starts before a desk model's training cutoff (its
    result may measure memory, not skill). None for the rules engine, which has no training
    data. A metered model without a known cutoff is said to be unknown, not assumed safe."""
    if settings.offline_models:
        return None
    notes: list[str] = []
    for model in sorted({settings.llm_model_cheap, settings.llm_model_strong}):
        price = settings.llm_prices.get(model)
        cutoff = price.training_cutoff if price is not None else None
        if cutoff is None:
            notes.append(f"{model}'s training cutoff is unknown")
        elif start.date() <= cutoff:
            where = "lies before" if end.date() <= cutoff else "starts before"
            notes.append(f"the window {where} {model}'s training cutoff {cutoff}")
    if not notes:
        return None
    return (
        f"{MEMORISATION_PREFIX} {'; '.join(notes)} ({start:%Y-%m-%d} → {end:%Y-%m-%d}): the "
        "model may have seen this period, so the result can measure memory, not skill "
        "(compare with a --blind run)"
    )


MEMORISATION_PREFIX = "memorisation:"


class CostLog:
    """Buffer of AgentLog rows plus per-run totals."""

    def __init__(
        self, engine: Engine | None, *, batch_size: int = 500, provider: str = "unknown"
    ) -> None:
        self.engine = engine
        self.provider = provider
        """Provider label of this log's calls in the metrics (`settings.llm_provider`)."""
        self.batch_size = batch_size
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.total_prompt_tokens = 0
        self.total_completion_tokens = 0
        self.total_cost_usd = Decimal(0)
        self.calls = 0
        self._spend_unsaved = False

    def record(
        self,
        *,
        run_id: str | None,
        agent: str,
        model: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: Decimal = Decimal(0),
        latency_ms: float = 0.0,
        ok: bool = True,
        cached: bool = False,
        error: str | None = None,
        raw_output: str | None = None,
    ) -> None:
        row = {
            "run_id": run_id,
            "agent": agent,
            "model": model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost_usd": cost,
            "latency_ms": latency_ms,
            "ok": ok,
            "cached": cached,
            "error": error,
            "raw_output": raw_output,
            "created_at": datetime.now(UTC),
        }
        with self._lock:
            self._rows.append(row)
            self.calls += 1
            self.total_prompt_tokens += prompt_tokens
            self.total_completion_tokens += completion_tokens
            self.total_cost_usd += cost
            if cost or prompt_tokens or completion_tokens:
                self._spend_unsaved = True
            full = len(self._rows) >= self.batch_size
        observe_llm_call(
            agent=agent,
            model=model,
            provider=self.provider,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            latency_ms=latency_ms,
            ok=ok,
            cached=cached,
        )
        if full:
            self.flush()

    @property
    def unsaved_spend(self) -> bool:
        """A call that spent tokens or money is buffered: write it now (`flush`), not at the
        end of the run — the budgets read spend from `agent_logs`, and a killed worker loses
        its buffer. Free calls (rules engine, answer-cache hits) stay buffered."""
        return self._spend_unsaved and self.engine is not None

    @property
    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._rows)

    def flush(self) -> int:
        """Write buffered rows; returns how many. Without an engine the rows stay in memory
        (tests and Studio read them from `pending`)."""
        if self.engine is None:
            return 0
        from sqlalchemy import insert

        from persistence.models import AgentLog

        with self._lock:
            rows, self._rows = self._rows, []
            self._spend_unsaved = False
        if not rows:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(AgentLog), rows)
        return len(rows)
