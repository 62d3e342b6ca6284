"""The platform around the routes: health and readiness, JSON 404s, API key, rate limit, body
size limit, CORS, generic 500s and the static UI served beside the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import CorsConfigError
from core.settings import Settings

# --- health -------------------------------------------------------------------------------


def test_health_and_readiness_report_database_and_checkpointer(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    body = client.get("/api/ready").json()
    assert body["status"] == "ready"
    assert body["database"]["ok"] and "schema at" in body["database"]["detail"]
    assert body["checkpointer"]["ok"]


def test_readiness_is_503_when_the_checkpointer_fails(client: TestClient) -> None:
    class Broken:
        async def aget_tuple(self, _config: Any) -> None:
            raise ConnectionError("gone")

    client.app.state.checkpointer = Broken()  # type: ignore[attr-defined]
    response = client.get("/api/ready")
    assert response.status_code == 503
    assert response.json()["checkpointer"]["ok"] is False


def test_unknown_api_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/nowhere")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("route /api/nowhere")


# --- security -----------------------------------------------------------------------------


def test_api_key_required_on_mutating_routes_only(
    make_client: Callable[..., TestClient], scripted: Any
) -> None:
    client = make_client(runner=scripted(), api_key="s3cret")
    body = {"symbol": "BTCUSDT"}
    assert client.post("/api/analysis/runs", json=body).status_code == 401
    wrong = client.post("/api/analysis/runs", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert client.post("/api/portfolios", json={"name": "a", "starting_cash": 1}).status_code == 401
    assert client.post("/api/backtests/x/cancel").status_code == 401
    assert client.get("/api/analysis/runs").status_code == 200  # reads stay open
    ok = client.post("/api/analysis/runs", json=body, headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 202


def test_rate_limit_on_run_starts(make_client: Callable[..., TestClient], scripted: Any) -> None:
    client = make_client(runner=scripted(tokens=0), api_rate_limit_per_minute=3)
    codes = [
        client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"}).status_code for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    limited = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT"})
    assert int(limited.headers["Retry-After"]) >= 1
    assert "rate limit" in limited.json()["detail"]
    assert client.get("/api/analysis/runs").status_code == 200  # reads are not limited


def test_token_bucket_refills_over_time() -> None:
    from api.security import TokenBucketLimiter

    now = [0.0]
    limiter = TokenBucketLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.acquire("a") is None and limiter.acquire("a") is None
    wait = limiter.acquire("a")
    assert wait == pytest.approx(30.0)
    assert limiter.acquire("b") is None  # per client
    now[0] = 30.0
    assert limiter.acquire("a") is None


def test_body_size_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_max_body_bytes=200)
    response = client.post("/api/portfolios", json={"name": "x" * 500, "starting_cash": 1})
    assert response.status_code == 413
    assert "200 bytes" in response.json()["detail"]


def test_body_size_limit_counts_chunked_bodies(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_max_body_bytes=100)

    def chunks() -> Any:
        for _ in range(10):
            yield b'{"name": "' + b"y" * 20

    response = client.post(
        "/api/portfolios", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_cors_wildcard_with_credentials_refused(settings_factory: Callable[..., Settings]) -> None:
    bad = settings_factory(cors_origins=["*"], cors_allow_credentials=True)
    with pytest.raises(CorsConfigError, match="cors_origins"):
        create_app(bad)


def test_cors_allows_configured_origin_only(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=["http://ui.example"])
    ok = client.get("/api/health", headers={"Origin": "http://ui.example"})
    assert ok.headers["access-control-allow-origin"] == "http://ui.example"
    other = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_unexpected_error_is_a_generic_500_without_trace(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()

    def boom(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("secret internals at /etc/passwd")

    import api.routes.agents as agents_routes

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(agents_routes, "budget_status", boom)
        response = client.get("/api/agents/budget")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "secret" not in response.text
    assert any("unhandled error" in r.message for r in caplog.records)


def test_static_ui_served_at_root_beside_the_api(
    make_client: Callable[..., TestClient], tmp_path: Any
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("<h1>home</h1>")
    (out / "portfolio.html").write_text("<h1>portfolio</h1>")
    client = make_client(web_out_dir=out)
    assert "home" in client.get("/").text
    assert "portfolio" in client.get("/portfolio").text
    assert client.get("/api/health").json()["status"] == "ok"
    missing = client.get("/api/nowhere")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
