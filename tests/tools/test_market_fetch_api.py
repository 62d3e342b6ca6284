"""`POST /api/market/fetch` is the one route that calls Binance (here the local stand-in):
API-key guarded, it stores the candles idempotently; a GET afterwards reads them from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.main import create_app
from core.settings import Settings

BODY = {
    "symbol": "BTCUSDT",
    "interval": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-02T00:00:00Z",
}


def test_fetch_is_a_guarded_post_that_stores(tmp_path: Path, fake_binance: Any) -> None:
    settings = Settings(  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'f.db'}",
        data_source="live",
        llm_provider="rules",
        binance_base_url=fake_binance.base_url,
        web_out_dir=tmp_path / "no-web",
        api_key="k",
        _env_file=None,
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/market/fetch", json=BODY).status_code == 401
        assert fake_binance.kline_requests == []
        first = client.post("/api/market/fetch", json=BODY, headers={"X-API-Key": "k"})
        assert first.status_code == 200, first.text
        assert (first.json()["rows_in"], first.json()["rows_new"]) == (24, 24)
        again = client.post("/api/market/fetch", json=BODY, headers={"X-API-Key": "k"}).json()
        assert (again["rows_in"], again["rows_new"]) == (24, 0)  # idempotent
        calls = len(fake_binance.kline_requests)
        candles = client.get("/api/market/candles", params={"symbol": "BTCUSDT", "limit": 24})
        assert candles.status_code == 200 and candles.json()["source"] == "store"
        assert len(fake_binance.kline_requests) == calls  # the GET did not call out
        bad = client.post(
            "/api/market/fetch", json={**BODY, "end": BODY["start"]}, headers={"X-API-Key": "k"}
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "end"
