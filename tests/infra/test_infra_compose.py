"""infra/compose.yaml structure (no Docker engine here, so checked as parsed YAML)."""

from __future__ import annotations

import re
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
    # `${POSTGRES_IMAGE:-postgres:16-alpine}`: the official image unless a stand-in is passed.
    image = re.fullmatch(r"\$\{POSTGRES_IMAGE:-(postgres:[^}]+)\}", db["image"])
    assert image and image.group(1).split(":")[1].startswith("16"), db["image"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data"
    assert volume[0] in yaml.safe_load(COMPOSE.read_text())["volumes"]


def test_migrations_run_once_before_the_api_and_the_worker(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["cryptofirm", "migrate"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_worker_runs_the_queue_consumer_from_the_api_image(services: dict[str, Any]) -> None:
    worker, api = services["worker"], services["api"]
    assert worker["command"] == ["cryptofirm", "worker"]
    assert worker["image"] == api["image"] and "ports" not in worker
    assert ":9100/metrics" in " ".join(worker["healthcheck"]["test"])


def test_web_serves_the_ui_after_the_api_is_healthy(services: dict[str, Any]) -> None:
    web = services["web"]
    assert web["build"]["dockerfile"] == "infra/docker/web.Dockerfile"
    assert web["build"]["target"] == "serve"
    assert web["depends_on"]["api"]["condition"] == "service_healthy"
    assert web["ports"][0].startswith("127.0.0.1:") and web["ports"][0].endswith(":8080")
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_api_uses_postgres_through_psycopg_and_the_env_file(services: dict[str, Any]) -> None:
    for name in ("migrate", "api", "worker"):
        service = services[name]
        url = service["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
        assert service["env_file"][0]["path"] == "../.env"
        build = service["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == REPO_ROOT
        assert (REPO_ROOT / build["dockerfile"]).is_file()
    api = services["api"]
    assert api["command"][:3] == ["cryptofirm", "serve", "--no-worker"]
    assert api["command"][3:5] == ["--host", "0.0.0.0"]
    assert "/api/health" in " ".join(api["healthcheck"]["test"])


def test_no_password_is_written_into_compose(services: dict[str, Any]) -> None:
    password = services["db"]["environment"]["POSTGRES_PASSWORD"]
    # Required from the environment / .env: compose refuses to start without it.
    assert password.startswith("${POSTGRES_PASSWORD:?")
    assert services["api"]["ports"][0].startswith("127.0.0.1:")
