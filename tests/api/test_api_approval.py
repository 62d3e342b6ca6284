"""Human approval with the real desk (rules engine, stored candles of a fresh uptrend that
make it buy): the run pauses with the decision awaiting approval; approving trades exactly
once (client order id `run:<id>`), approving again is 409; rejecting trades nothing; and
`cryptofirm runs approve RUN_ID` resumes a run the API paused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.sse_client import ReceivedEvent, parse_sse_lines
from core.settings import Settings, get_settings
from persistence.candles import store_candles
from tools.candle_frame import now_ms
from tools.intervals import interval_ms

HOUR_TURN_LIMITS = {"max_data_age_bars": 3}
"""Risk limits for a portfolio trading `fresh_uptrend`: its candles end at the last closed hour
when the test starts, and at the next turn of the hour they are two bars old — stale to the
default limit (2), so a test running across it saw the desk refuse to trade. One more bar of
tolerance covers any test shorter than an hour."""


def fresh_uptrend(bars: int = 600) -> pd.DataFrame:
    """Hourly candles ending at the last closed hour, rising ~0.2% a bar with noise: EMAs
    aligned up and positive momentum, which the rules desk answers with a buy."""
    step = interval_ms("1h")
    last_open = now_ms() // step * step - step
    opens = np.arange(last_open - (bars - 1) * step, last_open + 1, step, dtype=np.int64)
    rng = np.random.default_rng(7)
    close = 30_000 * np.exp(np.cumsum(0.002 + rng.normal(0, 0.003, bars)))
    open_ = np.concatenate([[close[0] / 1.002], close[:-1]])
    return pd.DataFrame(
        {
            "open_time": opens,
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.uniform(50, 100, bars),
        }
    )


@pytest.fixture
def desk_client(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(data_source="store")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    report = store_candles(engine, "BTCUSDT", "1h", fresh_uptrend(), source="import")
    assert report.rows_new == 600
    return client


def _portfolio(client: TestClient, name: str) -> int:
    created = client.post(
        "/api/portfolios",
        json={
            "name": name,
            "starting_cash": "10000",
            "require_approval": True,
            "risk": HOUR_TURN_LIMITS,
        },
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _wait(client: TestClient, run_id: str) -> dict[str, Any]:
    manager = client.app.state.run_manager  # type: ignore[attr-defined]
    client.portal.call(manager.wait, run_id)  # type: ignore[union-attr]
    run: dict[str, Any] = client.get(f"/api/analysis/runs/{run_id}").json()
    return run


def _events(client: TestClient, run_id: str, after: int = 0) -> list[ReceivedEvent]:
    url = f"/api/analysis/runs/{run_id}/events?after={after}"
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        return list(parse_sse_lines(response.iter_lines()))


def _trades(client: TestClient, portfolio_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/portfolios/{portfolio_id}/trades")
    assert response.status_code == 200
    trades: list[dict[str, Any]] = response.json()
    return trades


def _start_paused_run(client: TestClient, portfolio_id: int) -> tuple[str, list[ReceivedEvent]]:
    body = {"symbol": "BTCUSDT", "interval": "1h", "portfolio_id": portfolio_id, "execute": True}
    accepted = client.post("/api/analysis/runs", json=body)
    assert accepted.status_code == 202, accepted.text
    run_id = str(accepted.json()["run_id"])
    run = _wait(client, run_id)
    assert run["status"] == "paused", run
    events = _events(client, run_id)
    decision = [e for e in events if e.event == "decision"]
    assert decision[-1].data["awaiting_approval"] is True
    assert decision[-1].data["action"] == "buy" and decision[-1].data["approved"] is True
    assert events[-1].event == "run_finished" and events[-1].data["status"] == "paused"
    assert not [e for e in events if e.event == "trade"]
    assert _trades(client, portfolio_id) == []
    return run_id, events


def test_approve_through_the_api_trades_exactly_once(desk_client: TestClient) -> None:
    client = desk_client
    pid = _portfolio(client, "approval")
    run_id, before = _start_paused_run(client, pid)

    approved = client.post(f"/api/analysis/runs/{run_id}/approve", json={"note": "go"})
    assert approved.status_code == 202 and approved.json()["status"] == "running"
    run = _wait(client, run_id)
    assert run["status"] == "completed"
    last_seen = before[-1].id
    assert last_seen is not None
    after = _events(client, run_id, after=last_seen)
    assert [e.id for e in after] == list(range(last_seen + 1, last_seen + 1 + len(after)))
    trades = [e for e in after if e.event == "trade"]
    assert len(trades) == 1 and trades[0].data["side"] == "buy"
    assert trades[0].data["portfolio_id"] == pid and trades[0].data["symbol"] == "BTCUSDT"
    assert after[-1].event == "run_finished" and after[-1].data["status"] == "completed"

    ledger = _trades(client, pid)
    assert len(ledger) == 1
    assert ledger[0]["client_order_id"] == f"run:{run_id}"
    assert ledger[0]["run_id"] == run_id and ledger[0]["id"] == trades[0].data["trade_id"]
    detail = client.get(f"/api/portfolios/{pid}").json()
    assert [p["symbol"] for p in detail["positions"]] == ["BTCUSDT"]

    again = client.post(f"/api/analysis/runs/{run_id}/approve")
    assert again.status_code == 409 and "completed" in again.json()["detail"]
    assert client.post(f"/api/analysis/runs/{run_id}/reject").status_code == 409
    assert len(_trades(client, pid)) == 1


def test_reject_through_the_api_trades_nothing(desk_client: TestClient) -> None:
    client = desk_client
    pid = _portfolio(client, "rejection")
    run_id, before = _start_paused_run(client, pid)

    rejected = client.post(f"/api/analysis/runs/{run_id}/reject", json={"note": "too risky"})
    assert rejected.status_code == 202
    run = _wait(client, run_id)
    assert run["status"] == "completed"
    assert run["result"]["execution"]["status"] == "rejected_by_human"
    after = _events(client, run_id, after=before[-1].id or 0)
    assert not [e for e in after if e.event == "trade"]
    assert _trades(client, pid) == []
    assert client.post(f"/api/analysis/runs/{run_id}/approve").status_code == 409
    assert _trades(client, pid) == []


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, settings_factory: Callable[..., Settings]
) -> Iterator[None]:
    """The CLI reads settings from the environment: point it at the API's database."""
    settings = settings_factory(data_source="store")
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_SOURCE", "store")
    monkeypatch.setenv("LLM_PROVIDER", "rules")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_runs_approve_resumes_a_run_the_api_paused(
    desk_client: TestClient, cli_env: None
) -> None:
    from cli.main import app as cli

    client = desk_client
    pid = _portfolio(client, "cli-approval")
    run_id, _ = _start_paused_run(client, pid)

    result = CliRunner().invoke(cli, ["runs", "approve", run_id, "--note", "ok"])
    assert result.exit_code == 0, result.output
    assert "FILLED buy" in result.output and "completed" in result.output

    assert client.get(f"/api/analysis/runs/{run_id}").json()["status"] == "completed"
    ledger = _trades(client, pid)
    assert [t["client_order_id"] for t in ledger] == [f"run:{run_id}"]
    # The API sees it is no longer paused; the CLI refuses a second answer with exit 2.
    assert client.post(f"/api/analysis/runs/{run_id}/approve").status_code == 409
    again = CliRunner().invoke(cli, ["runs", "approve", run_id])
    assert again.exit_code == 2 and "not paused" in again.output
    assert len(_trades(client, pid)) == 1
