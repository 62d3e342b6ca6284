"""`RunRowUpdate`: a run's final row values, handed to whoever records the run's events.

The desk runner and the backtest runner yield (emit) it just before `run_finished` when they
are told not to write the row themselves (`finish_run=False`, the job queue in `firm.jobs`):
the recorder commits these values with the terminal event in ONE transaction, so no reader
ever sees a finished run whose events stop short of `run_finished`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunRowUpdate:
    """Column → value for the `runs` row (status, error, result, progress, finished_at …)."""

    values: dict[str, Any]
