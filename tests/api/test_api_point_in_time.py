"""API surface of issue #11's point-in-time half: `blind` on analysis runs and backtests, and
the memorisation note on a backtest result."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import insert

from core.settings import Settings
from graph.backtest.runs import create_backtest_run
from graph.backtest.schemas import BacktestParams
from graph.costs import memorisation_note
from persistence.models import BacktestResult


def test_blind_analysis_cannot_execute(client: TestClient) -> None:
    body = {"symbol": "BTCUSDT", "interval": "1h", "execute": True, "blind": True}
    response = client.post("/api/analysis/runs", json=body)
    assert response.status_code == 422, response.text
    assert "blind" in response.text


def test_backtest_accepts_blind_and_result_carries_the_memorisation_note(
    client: TestClient,
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    params = BacktestParams(
        symbol="BTCUSDT",
        interval="1h",
        start=datetime(2023, 1, 1, tzinfo=UTC),
        end=datetime(2023, 2, 1, tzinfo=UTC),
        blind=True,
    )
    run_id = create_backtest_run(engine, params, settings=Settings(_env_file=None))  # type: ignore[call-arg]
    llm = Settings(llm_provider="openai", llm_model_cheap="gpt-4o-mini", llm_model_strong="gpt-4o")
    note = memorisation_note(llm, params.start, params.end)
    assert note is not None
    with engine.begin() as conn:
        conn.execute(
            insert(BacktestResult).values(
                run_id=run_id,
                partial=False,
                metrics={},
                warnings=[note, "hold was 95% of decisions"],
                created_at=datetime.now(UTC),
            )
        )
    assert client.get(f"/api/backtests/{run_id}").json()["params"]["blind"] is True
    result = client.get(f"/api/backtests/{run_id}/result").json()
    assert result["memorisation_note"] == note
