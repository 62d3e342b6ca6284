"""A model setup that cannot work is a 422 naming the setting, before any run is created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"llm_provider": "openai", "llm_api_key": "k", "llm_model_cheap": "x-9"}, "LLM_PRICES"),
        ({"llm_provider": "openai_compatible", "llm_api_key": "k"}, "LLM_BASE_URL"),
        ({"llm_provider": "openrouter"}, "LLM_API_KEY"),
    ],
)
def test_model_config_error_is_422_naming_the_setting(
    make_client: Callable[..., TestClient], overrides: dict[str, Any], field: str
) -> None:
    client = make_client(**overrides)
    response = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT", "interval": "1h"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"][0]["field"] == field and field in body["detail"]
    assert client.get("/api/analysis/runs").json()["items"] == []
