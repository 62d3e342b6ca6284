"""Portfolio management through the API: create with cash, kind, approval policy and limits;
`PATCH /api/portfolios/{id}` changes only the limits sent and the approval policy, validated
whole (422 naming the field, nothing written), 404 for an unknown id; the ledger enforces the
new limits from the next order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.risk import RiskLimits
from persistence.ledger import execute_order
from tools.orders import OrderRequest


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/portfolios", json={"name": "desk", "starting_cash": 10000, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_takes_kind_approval_and_limits(client: TestClient) -> None:
    created = _create(
        client,
        kind="synthetic",
        require_approval=True,
        risk={"max_position_pct": 25, "min_cash_reserve_pct": 10},
    )
    assert created["kind"] == "synthetic" and created["require_approval"] is True
    risk = created["risk"]
    assert risk["max_position_pct"] == 25 and risk["min_cash_reserve_pct"] == 10
    # The limits not sent are the defaults.
    assert created["risk"]["max_drawdown_pct"] == RiskLimits().max_drawdown_pct


def test_patch_changes_only_what_is_sent(client: TestClient) -> None:
    pid = _create(client, risk={"max_position_pct": 25})["id"]
    response = client.patch(
        f"/api/portfolios/{pid}",
        json={"risk": {"max_total_exposure_pct": 80}, "require_approval": True},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["risk"]["max_total_exposure_pct"] == 80
    assert patched["risk"]["max_position_pct"] == 25  # kept
    assert patched["require_approval"] is True
    listed = {p["id"]: p for p in client.get("/api/portfolios").json()}[pid]
    assert listed["risk"] == patched["risk"] and listed["require_approval"] is True
    # Approval back off, limits untouched.
    again = client.patch(f"/api/portfolios/{pid}", json={"require_approval": False}).json()
    assert again["require_approval"] is False and again["risk"] == patched["risk"]
    # An empty patch changes nothing.
    assert client.patch(f"/api/portfolios/{pid}", json={}).json() == again


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"risk": {"max_position_pct": 300}}, "risk.max_position_pct"),
        ({"risk": {"max_position_pct": "5"}}, "risk.max_position_pct"),
        ({"risk": {"min_cash_reserve_pct": 100}}, "risk.min_cash_reserve_pct"),
        ({"risk": {"no_such_limit": 1}}, "risk.no_such_limit"),
        ({"require_approval": "yes"}, "require_approval"),
        ({"kind": "synthetic"}, "kind"),
        ({"starting_cash": 5}, "starting_cash"),
    ],
)
def test_patch_bad_input_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    created = _create(client)
    response = client.patch(f"/api/portfolios/{created['id']}", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    unchanged = {p["id"]: p for p in client.get("/api/portfolios").json()}[created["id"]]
    assert unchanged == created  # nothing written


def test_patch_unknown_portfolio_is_404(client: TestClient) -> None:
    response = client.patch("/api/portfolios/999", json={"require_approval": True})
    assert response.status_code == 404 and "999" in response.json()["detail"]


def test_patch_needs_the_api_key(make_client: Any) -> None:
    client = make_client(api_key="secret")
    response = client.patch("/api/portfolios/1", json={"require_approval": True})
    assert response.status_code == 401


def test_the_ledger_enforces_patched_limits(client: TestClient) -> None:
    pid = _create(client, risk={"max_position_pct": 50, "max_total_exposure_pct": 50})["id"]
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    patched = client.patch(f"/api/portfolios/{pid}", json={"risk": {"max_position_pct": 5}})
    assert patched.status_code == 200
    fill = execute_order(
        engine,
        pid,
        OrderRequest(
            symbol="BTCUSDT",
            side="buy",
            size_pct_equity=Decimal("40"),
            stop_loss=Decimal("40000"),
        ),
        client_order_id="patch:1",
        price=Decimal("42000"),
        at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    # Cut to the new 5% position limit (not the 40% asked, nor the old 50% limit).
    assert fill.quantity * fill.price <= Decimal("10000") * Decimal("0.05")
    assert fill.adjustments
