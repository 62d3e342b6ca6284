"""The day's model spend is one exact SQL aggregate on both backends: amounts a float sum gets
wrong (0.1 + 0.2), zero stored as `0E-8`, nothing before `since`, and no rows at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from persistence.models import AgentLog
from persistence.spend import Spend, spent_since

SINCE = datetime(2026, 6, 1, tzinfo=UTC)


def _log(cost: str, tokens: tuple[int, int], at: datetime) -> AgentLog:
    return AgentLog(
        agent="trader",
        model="m",
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        cost_usd=Decimal(cost),
        created_at=at,
    )


def test_spend_since_is_exact_and_one_statement(engine: Engine) -> None:
    assert spent_since(engine, SINCE) == Spend(Decimal(0), 0)
    costs = ["0.1", "0.2", "0", "0.00000001"]
    with Session(engine) as session:
        session.add_all(_log(c, (10, 5), SINCE + timedelta(minutes=i)) for i, c in enumerate(costs))
        session.add(_log("99", (1000, 1000), SINCE - timedelta(seconds=1)))  # the day before
        session.commit()
    float_sum = 0.0
    for cost in costs:
        float_sum += float(cost)
    assert repr(float_sum) == "0.30000001000000004"  # what summing floats would answer

    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    spend = spent_since(engine, SINCE)
    assert spend.usd == Decimal("0.30000001")
    assert spend.tokens == 15 * len(costs)
    assert len(statements) == 1
