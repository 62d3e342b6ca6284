"""infra/compose.yaml structure (no Docker engine here, so checked as parsed YAML)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from infra_paths import INFRA_DIR, REPO_ROOT

COMPOSE = INFRA_DIR / "compose.yaml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    parsed = yaml.safe_load(COMPOSE.read_text())
    return dict(parsed["services"])


def test_postgres_16_with_healthcheck_and_volume(services: dict[str, Any]) -> None:
    db = services["db"]
    assert db["image"].split(":")[1].startswith("16")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data"
    assert volume[0] in yaml.safe_load(COMPOSE.read_text())["volumes"]


def test_migrations_run_once_before_the_api(services: dict[str, Any]) -> None:
    migrate, api = services["migrate"], services["api"]
    assert migrate["command"] == ["cryptofirm", "migrate"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_api_uses_postgres_through_psycopg_and_the_env_file(services: dict[str, Any]) -> None:
    for name in ("migrate", "api"):
        service = services[name]
        url = service["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
        assert service["env_file"][0]["path"] == "../.env"
        build = service["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == REPO_ROOT
        assert (REPO_ROOT / build["dockerfile"]).is_file()
    api = services["api"]
    assert api["command"][:4] == ["cryptofirm", "serve", "--host", "0.0.0.0"]
    assert "/api/health" in " ".join(api["healthcheck"]["test"])


def test_no_password_is_written_into_compose(services: dict[str, Any]) -> None:
    password = services["db"]["environment"]["POSTGRES_PASSWORD"]
    # Required from the environment / .env: compose refuses to start without it.
    assert password.startswith("${POSTGRES_PASSWORD:?")
    assert services["api"]["ports"][0].startswith("127.0.0.1:")
