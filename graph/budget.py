"""Per-run and per-day budgets in tokens and USD, checked BEFORE every metered model call.

The estimate for a call is `len(prompt) / 4` prompt tokens (the usual ~4 characters per token
for English and JSON; deliberately simple, it only has to be conservative together with the
next term) plus `llm_max_output_tokens` completion tokens, priced with `settings.llm_prices`.
The day's spend is read once from `agent_logs` (since UTC midnight) and kept up to date in
memory. Rules-engine calls are free and unmetered, so they are never checked.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from core.settings import Settings
from graph.costs import cost_usd

if TYPE_CHECKING:
    from sqlalchemy import Engine


class BudgetExceededError(RuntimeError):
    """Raised before a call that would break a budget. A RuntimeError, so LangGraph's default
    retry policy (`default_retry_on`) never retries it; the runner turns it into status
    `budget_exceeded` and a `budget` event."""

    def __init__(
        self,
        scope: Literal["run", "day"],
        reason: str,
        *,
        spent_usd: Decimal,
        limit_usd: Decimal,
        spent_tokens: int,
        limit_tokens: int,
    ) -> None:
        super().__init__(reason)
        self.scope = scope
        self.reason = reason
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.spent_tokens = spent_tokens
        self.limit_tokens = limit_tokens


def estimate_prompt_tokens(prompt_text: str) -> int:
    return len(prompt_text) // 4 + 1


class BudgetGuard:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        run_usd: Decimal | None = None,
        run_tokens: int | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.run_limit_usd = settings.budget_run_usd if run_usd is None else run_usd
        self.run_limit_tokens = settings.budget_run_tokens if run_tokens is None else run_tokens
        self.day_limit_usd = settings.budget_day_usd
        self.day_limit_tokens = settings.budget_day_tokens
        self.run_usd = Decimal(0)
        self.run_tokens = 0
        self._day_loaded = False
        self.day_usd = Decimal(0)
        self.day_tokens = 0
        self._lock = threading.Lock()

    def _load_day(self) -> None:
        if self._day_loaded:
            return
        self._day_loaded = True
        if self.engine is None:
            return
        from sqlalchemy import func, select

        from persistence.models import AgentLog

        midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
        stmt = select(
            func.coalesce(func.sum(AgentLog.cost_usd), 0),
            func.coalesce(func.sum(AgentLog.prompt_tokens + AgentLog.completion_tokens), 0),
        ).where(AgentLog.created_at >= midnight)
        with self.engine.connect() as conn:
            usd, tokens = conn.execute(stmt).one()
        self.day_usd = Decimal(str(usd))
        self.day_tokens = int(tokens)

    def check(self, model: str, prompt_text: str) -> None:
        """Raise `BudgetExceededError` if this call could break a budget."""
        est_prompt = estimate_prompt_tokens(prompt_text)
        est_out = self.settings.llm_max_output_tokens
        est_tokens = est_prompt + est_out
        est_usd = cost_usd(self.settings, model, est_prompt, est_out)
        with self._lock:
            self._load_day()
            if (
                self.run_usd + est_usd > self.run_limit_usd
                or self.run_tokens + est_tokens > self.run_limit_tokens
            ):
                scope: Literal["run", "day"] = "run"
                spent_usd, limit_usd = self.run_usd, self.run_limit_usd
                spent_tok, limit_tok = self.run_tokens, self.run_limit_tokens
            elif (
                self.day_usd + est_usd > self.day_limit_usd
                or self.day_tokens + est_tokens > self.day_limit_tokens
            ):
                scope = "day"
                spent_usd, limit_usd = self.day_usd, self.day_limit_usd
                spent_tok, limit_tok = self.day_tokens, self.day_limit_tokens
            else:
                return
        reason = (
            f"{scope} budget would be exceeded by the next {model} call: "
            f"spent ${spent_usd:.4f} + est. ${est_usd:.4f} vs limit ${limit_usd}, "
            f"{spent_tok} + est. {est_tokens} tokens vs limit {limit_tok}"
        )
        raise BudgetExceededError(
            scope,
            reason,
            spent_usd=spent_usd,
            limit_usd=limit_usd,
            spent_tokens=spent_tok,
            limit_tokens=limit_tok,
        )

    def add(self, tokens: int, usd: Decimal) -> None:
        with self._lock:
            self._load_day()
            self.run_tokens += tokens
            self.run_usd += usd
            self.day_tokens += tokens
            self.day_usd += usd
