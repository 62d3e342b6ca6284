from fastapi.testclient import TestClient


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    ready = client.get("/api/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["database"]["ok"] and body["checkpointer"]["ok"]
