"""Every route, with bad inputs: 422 naming the field, 404, 409, 429 (platform checks such as
401, 413, CORS and readiness are in test_api_platform.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from persistence.db import session_scope
from persistence.ledger import execute_order
from persistence.models import AgentLog
from tools.orders import OrderRequest
from tools.synthetic import generate_candles


def _engine(client: TestClient) -> Engine:
    app: FastAPI = client.app  # type: ignore[assignment]
    engine: Engine = app.state.engine
    return engine


def _field_errors(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


# --- market -------------------------------------------------------------------------------


def test_candles_with_indicators_and_source_label(client: TestClient) -> None:
    response = client.get("/api/market/candles", params={"symbol": "BTCUSDT", "limit": 50})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == "BTCUSDT"
    assert body["source"] == "synthetic"  # the test settings say synthetic: labelled as such
    assert len(body["candles"]) == 50
    last = body["candles"][-1]
    assert set(body["indicator_columns"]) <= set(last["indicators"])
    assert last["indicators"]["ema_200"] is not None  # warm-up bars were loaded before


def test_candles_before_an_end_time(client: TestClient) -> None:
    # A past window (a backtest's range, a replayed bar): every bar opens before `end`.
    params = {"symbol": "BTCUSDT", "interval": "1h", "limit": 20, "end": "2024-03-01T00:00"}
    response = client.get("/api/market/candles", params=params)
    assert response.status_code == 200, response.text
    times = [c["time"] for c in response.json()["candles"]]
    assert len(times) == 20
    assert times[-1].startswith("2024-02-29T23:00")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"symbol": "BTCUSDT", "end": "yesterday"}, "end"),
        ({"symbol": "BTCUSDT", "interval": "7x"}, "interval"),
        ({"symbol": "!!", "interval": "1h"}, "symbol"),
        ({"symbol": "BTCUSDT", "limit": 0}, "limit"),
        ({"interval": "1h"}, "symbol"),
    ],
)
def test_candles_bad_input_names_the_field(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/api/market/candles", params=params)
    assert response.status_code == 422
    assert field in _field_errors(response)
    assert field in response.json()["detail"]


def test_symbols_and_source_status_list_the_store(
    make_client: Callable[..., TestClient],
) -> None:
    from persistence.candles import store_candles

    client = make_client(data_source="store")
    assert client.get("/api/market/symbols").json() == []
    frame = generate_candles(
        "ETHUSDT", "1h", start_ms=1_700_000_000_000 // 3_600_000 * 3_600_000, bars=300, seed=1
    )
    store_candles(_engine(client), "ETHUSDT", "1h", frame, source="synthetic")
    symbols = client.get("/api/market/symbols").json()
    assert [(s["symbol"], s["interval"], s["rows"]) for s in symbols] == [("ETHUSDT", "1h", 300)]
    status = client.get("/api/market/source-status").json()
    assert status["mode"] == "store" and status["chain"] == ["store", "store-resampled"]
    [series] = status["stored"]
    assert series["market"] == "synthetic" and series["age_seconds"] > 0
    candles = client.get("/api/market/candles", params={"symbol": "ETHUSDT", "limit": 10}).json()
    # Read from the store, but the rows were stored as synthetic: the label says what they are.
    assert candles["source"] == "synthetic" and candles["market"] == "synthetic"
    assert candles["last_bar"] == candles["candles"][-1]["time"]
    resampled = client.get(
        "/api/market/candles", params={"symbol": "ETHUSDT", "interval": "4h", "limit": 10}
    ).json()
    assert (resampled["source"], resampled["derived_from"]) == ("synthetic", "1h")
    missing = client.get("/api/market/candles", params={"symbol": "BTCUSDT", "limit": 10})
    assert missing.status_code == 422  # nothing stored: an error naming it, never synthetic
    assert "no stored BTCUSDT 1h candles" in missing.json()["detail"]


# --- portfolios ---------------------------------------------------------------------------


def test_portfolio_lifecycle_with_a_trade(client: TestClient) -> None:
    created = client.post("/api/portfolios", json={"name": "alpha", "starting_cash": "5000"})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert (
        client.post("/api/portfolios", json={"name": "alpha", "starting_cash": 1}).status_code
        == 409
    )
    assert [p["name"] for p in client.get("/api/portfolios").json()] == ["alpha"]

    at = datetime(2024, 1, 1, tzinfo=UTC)
    execute_order(
        _engine(client),
        pid,
        OrderRequest(
            symbol="BTCUSDT", side="buy", size_pct_equity=Decimal("10"), stop_loss=Decimal("40000")
        ),
        client_order_id="manual:1",
        price=Decimal("42000"),
        at=at,
    )
    detail = client.get(f"/api/portfolios/{pid}").json()
    assert detail["trade_count"] == 1
    assert Decimal(detail["cash"]) < Decimal("5000")
    assert Decimal(detail["fees_paid"]) > 0
    [position] = detail["positions"]
    assert position["symbol"] == "BTCUSDT" and position["mark_source"] == "last_fill"
    assert client.get(f"/api/portfolios/{pid}/positions").json() == detail["positions"]
    [trade] = client.get(f"/api/portfolios/{pid}/trades").json()
    assert trade["client_order_id"] == "manual:1" and trade["side"] == "buy"
    assert trade["realized_pnl"] is None  # a buy realises nothing
    snapshots = client.get(f"/api/portfolios/{pid}/snapshots").json()
    assert len(snapshots) == 1
    equity = client.get(f"/api/portfolios/{pid}/equity").json()
    assert [Decimal(p["equity"]) for p in equity] == [Decimal(snapshots[0]["equity"])]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "starting_cash": -5}, "starting_cash"),
        ({"starting_cash": 100}, "name"),
        (
            {"name": "x", "starting_cash": 100, "risk": {"max_position_pct": 300}},
            "risk.max_position_pct",
        ),
    ],
)
def test_portfolio_create_bad_input(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/api/portfolios", json=body)
    assert response.status_code == 422
    assert field in _field_errors(response)


def test_each_sell_carries_its_realised_pnl(client: TestClient) -> None:
    pid = client.post("/api/portfolios", json={"name": "pnl", "starting_cash": "10000"}).json()[
        "id"
    ]
    at = datetime(2024, 1, 1, tzinfo=UTC)
    orders = [
        ("buy", Decimal("40000"), {"size_pct_equity": Decimal("10")}),
        ("sell", Decimal("44000"), {"sell_fraction": Decimal("0.5")}),
        ("sell", Decimal("38000"), {"sell_fraction": Decimal("1")}),
    ]
    for i, (side, price, size) in enumerate(orders):
        execute_order(
            _engine(client),
            pid,
            OrderRequest(symbol="BTCUSDT", side=side, **size),  # type: ignore[arg-type]
            client_order_id=f"pnl:{i}",
            price=price,
            at=at,
        )
    trades = client.get(f"/api/portfolios/{pid}/trades").json()
    by_id = {t["client_order_id"]: t for t in trades}
    first, second = Decimal(by_id["pnl:1"]["realized_pnl"]), Decimal(by_id["pnl:2"]["realized_pnl"])
    assert first > 0 > second  # sold half above the entry, the rest below
    assert by_id["pnl:0"]["realized_pnl"] is None
    # The per-trade figures add up to the portfolio's realised P&L.
    assert first + second == Decimal(client.get(f"/api/portfolios/{pid}").json()["realized_pnl"])


@pytest.mark.parametrize("suffix", ["", "/positions", "/trades", "/snapshots", "/equity"])
def test_unknown_portfolio_is_404(client: TestClient, suffix: str) -> None:
    response = client.get(f"/api/portfolios/999{suffix}")
    assert response.status_code == 404
    assert "999" in response.json()["detail"]


def test_non_integer_portfolio_id_is_422(client: TestClient) -> None:
    response = client.get("/api/portfolios/abc")
    assert response.status_code == 422
    assert "portfolio_id" in _field_errors(response)


# --- agents -------------------------------------------------------------------------------


def _log(engine: Engine, *, agent: str, model: str, cost: str, at: datetime, **kw: Any) -> None:
    with session_scope(engine) as session:
        session.add(
            AgentLog(
                run_id="r",
                agent=agent,
                model=model,
                prompt_tokens=100,
                completion_tokens=50,
                cost_usd=Decimal(cost),
                created_at=at,
                **kw,
            )
        )


def test_agent_logs_usage_and_budget(client: TestClient) -> None:
    engine = _engine(client)
    now = datetime.now(UTC)
    _log(engine, agent="technical", model="gpt-4o-mini", cost="0.01", at=now)
    _log(engine, agent="trader", model="gpt-4o", cost="0.20", at=now, cached=True)
    _log(engine, agent="trader", model="gpt-4o", cost="0.30", at=now - timedelta(days=2), ok=False)

    logs = client.get("/api/agents/logs", params={"agent": "trader"}).json()
    assert logs["total"] == 2 and {i["agent"] for i in logs["items"]} == {"trader"}

    by_agent = {r["key"]: r for r in client.get("/api/agents/usage?group_by=agent").json()["rows"]}
    assert by_agent["trader"]["calls"] == 2
    assert Decimal(by_agent["trader"]["cost_usd"]) == Decimal("0.50")
    assert by_agent["trader"]["cached_calls"] == 1 and by_agent["trader"]["failed_calls"] == 1
    by_day = client.get("/api/agents/usage?group_by=day").json()["rows"]
    assert [r["key"] for r in by_day] == [
        (now - timedelta(days=2)).date().isoformat(),
        now.date().isoformat(),
    ]
    by_model = client.get("/api/agents/usage?group_by=model&days=1").json()["rows"]
    assert {r["key"]: r["calls"] for r in by_model} == {"gpt-4o": 1, "gpt-4o-mini": 1}

    budget = client.get("/api/agents/budget").json()
    assert Decimal(budget["spent_usd"]) == Decimal("0.21")
    assert budget["exceeded"] is False and budget["spent_tokens"] == 300

    bad = client.get("/api/agents/usage?group_by=week")
    assert bad.status_code == 422 and "group_by" in _field_errors(bad)


def test_exhausted_daily_budget_refuses_runs_with_429(
    make_client: Callable[..., TestClient], scripted: Any
) -> None:
    client = make_client(runner=scripted(), budget_day_usd=Decimal("0.10"))
    _log(_engine(client), agent="trader", model="gpt-4o", cost="0.11", at=datetime.now(UTC))
    response = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"})
    assert response.status_code == 429
    assert "daily budget" in response.json()["detail"]
    assert client.get("/api/agents/budget").json()["exceeded"] is True


# --- analysis (pipeline with a scripted runner; the real desk is in test_api_desk.py) -----


def test_analysis_start_list_get(make_client: Callable[..., TestClient], scripted: Any) -> None:
    client = make_client(runner=scripted(tokens=3))
    accepted = client.post("/api/analysis/runs", json={"symbol": "ETHUSDT", "interval": "4h"})
    assert accepted.status_code == 202
    run_id = accepted.json()["run_id"]
    client.portal.call(client.app.state.run_manager.wait, run_id)  # type: ignore[attr-defined,union-attr]
    run = client.get(f"/api/analysis/runs/{run_id}").json()
    assert (run["symbol"], run["interval"], run["kind"]) == ("ETHUSDT", "4h", "analysis")
    assert run["last_event_seq"] == 8
    page = client.get("/api/analysis/runs").json()
    assert page["total"] == 1 and page["items"][0]["id"] == run_id
    assert client.get("/api/analysis/runs?status=bogus").status_code == 422
    assert client.get("/api/analysis/runs/unknown").status_code == 404
    assert client.get(f"/api/backtests/{run_id}").status_code == 404  # not a backtest


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "symbol"),
        ({"symbol": "BTCUSDT", "interval": "9q"}, "interval"),
        ({"symbol": "BTC$USDT"}, "symbol"),
        ({"symbol": "BTCUSDT", "portfolio_id": 0}, "portfolio_id"),
        ({"symbol": "BTCUSDT", "execute": "maybe"}, "execute"),
    ],
)
def test_analysis_start_bad_input(
    make_client: Callable[..., TestClient], scripted: Any, body: dict[str, Any], field: str
) -> None:
    client = make_client(runner=scripted())
    response = client.post("/api/analysis/runs", json=body)
    assert response.status_code == 422, response.text
    assert field in _field_errors(response)


def test_analysis_unknown_portfolio_is_404(
    make_client: Callable[..., TestClient], scripted: Any
) -> None:
    client = make_client(runner=scripted())
    response = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT", "portfolio_id": 42})
    assert response.status_code == 404


def test_approve_and_reject_need_a_paused_run(
    make_client: Callable[..., TestClient], scripted: Any
) -> None:
    from sqlalchemy import update

    from persistence.models import Run

    runner = scripted(tokens=1)
    client = make_client(runner=runner)
    assert client.post("/api/analysis/runs/nope/approve").status_code == 404
    run_id = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"}).json()["run_id"]
    client.portal.call(client.app.state.run_manager.wait, run_id)  # type: ignore[attr-defined,union-attr]
    with _engine(client).begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="completed"))
    assert client.post(f"/api/analysis/runs/{run_id}/approve").status_code == 409
    with _engine(client).begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="paused"))
    response = client.post(f"/api/analysis/runs/{run_id}/reject", json={"note": "too risky"})
    assert response.status_code == 202
    client.portal.call(client.app.state.run_manager.wait, run_id)  # type: ignore[attr-defined,union-attr]
    assert runner.resumed == [(run_id, False, "too risky")]
    too_long = client.post(f"/api/analysis/runs/{run_id}/approve", json={"note": "x" * 3000})
    assert too_long.status_code == 422 and "note" in _field_errors(too_long)
