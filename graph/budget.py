"""Per-run and per-day budgets in tokens and USD, RESERVED before every metered model call.

The estimate of a call is an upper bound: its prompt tokens counted with the model's own
tokenizer (OpenAI models) or bounded by the prompt's UTF-8 bytes (any other model; see
`graph.tokens`), plus `llm_max_output_tokens` completion tokens, priced with
`settings.llm_prices`. `reserve` adds the estimate to the spend before the call starts and
refuses the call if the spend plus the reservation would break a limit; `settle` replaces the
reservation with what the call really used. Calls running in parallel (the three analysts)
therefore can never overshoot together. The day's spend is read once from `agent_logs` (since
UTC midnight), with what the run's earlier attempts spent (a run resumed after a dead worker),
and kept up to date in memory; every call that spent tokens is in `agent_logs` as soon as it
returns (`graph.costs.CostLog.unsaved_spend`), so a killed worker loses no spend the budgets
count. Rules-engine calls are free and never reserved.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from core.settings import Settings
from graph.costs import cost_usd
from graph.tokens import prompt_token_bound

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


@dataclass(frozen=True)
class Reservation:
    """What `reserve` set aside for one call; `settle` it exactly once."""

    tokens: int
    usd: Decimal


class BudgetGuard:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        run_usd: Decimal | None = None,
        run_tokens: int | None = None,
        run_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.run_id = run_id
        """The run whose earlier attempts' logged spend counts (a run resumed after its worker
        died does not start its budget again); None: nothing before this guard."""
        self.run_limit_usd = settings.budget_run_usd if run_usd is None else run_usd
        self.run_limit_tokens = settings.budget_run_tokens if run_tokens is None else run_tokens
        self.day_limit_usd = settings.budget_day_usd
        self.day_limit_tokens = settings.budget_day_tokens
        self.run_usd = Decimal(0)
        self.run_tokens = 0
        self._spent_loaded = False
        self.day_usd = Decimal(0)
        self.day_tokens = 0
        self._lock = threading.Lock()

    def _load_spent(self) -> None:
        if self._spent_loaded:
            return
        self._spent_loaded = True
        if self.engine is None:
            return
        from persistence.spend import spent_since

        midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
        spend = spent_since(self.engine, midnight)
        self.day_usd, self.day_tokens = spend.usd, spend.tokens
        if self.run_id is not None:
            earlier = spent_since(self.engine, None, run_id=self.run_id)
            self.run_usd += earlier.usd
            self.run_tokens += earlier.tokens

    def estimate(self, model: str, prompt_texts: Sequence[str]) -> Reservation:
        """Upper bound of one call's tokens and cost (see the module docstring)."""
        est_prompt = prompt_token_bound(model, prompt_texts)
        est_out = self.settings.llm_max_output_tokens
        usd = cost_usd(self.settings, model, est_prompt, est_out)
        return Reservation(est_prompt + est_out, usd)

    def reserve(self, model: str, prompt_texts: Sequence[str]) -> Reservation:
        """Set the call's estimate aside, or raise `BudgetExceededError` if spend + reservations
        + this estimate would break a budget."""
        est = self.estimate(model, prompt_texts)
        with self._lock:
            self._load_spent()
            if (
                self.run_usd + est.usd > self.run_limit_usd
                or self.run_tokens + est.tokens > self.run_limit_tokens
            ):
                scope: Literal["run", "day"] = "run"
                spent_usd, limit_usd = self.run_usd, self.run_limit_usd
                spent_tok, limit_tok = self.run_tokens, self.run_limit_tokens
            elif (
                self.day_usd + est.usd > self.day_limit_usd
                or self.day_tokens + est.tokens > self.day_limit_tokens
            ):
                scope = "day"
                spent_usd, limit_usd = self.day_usd, self.day_limit_usd
                spent_tok, limit_tok = self.day_tokens, self.day_limit_tokens
            else:
                self._apply(est.tokens, est.usd)
                return est
        reason = (
            f"{scope} budget would be exceeded by the next {model} call: "
            f"spent and reserved ${spent_usd:.4f} + est. ${est.usd:.4f} vs limit ${limit_usd}, "
            f"{spent_tok} + est. {est.tokens} tokens vs limit {limit_tok}"
        )
        raise BudgetExceededError(
            scope,
            reason,
            spent_usd=spent_usd,
            limit_usd=limit_usd,
            spent_tokens=spent_tok,
            limit_tokens=limit_tok,
        )

    def settle(self, reservation: Reservation, tokens: int, usd: Decimal) -> None:
        """Replace a reservation with the call's real use."""
        with self._lock:
            self._apply(tokens - reservation.tokens, usd - reservation.usd)

    def _apply(self, tokens: int, usd: Decimal) -> None:
        self.run_tokens += tokens
        self.run_usd += usd
        self.day_tokens += tokens
        self.day_usd += usd
