"""Dockerfiles, .dockerignore and the entrypoint, checked without a Docker engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from infra_paths import DOCKER_DIR, REPO_ROOT

API_DOCKERFILE = DOCKER_DIR / "api.Dockerfile"
WEB_DOCKERFILE = DOCKER_DIR / "web.Dockerfile"
ENTRYPOINT = DOCKER_DIR / "entrypoint.sh"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.name} ends inside a line continuation"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def _final_stage(path: Path) -> list[tuple[str, str]]:
    instructions = _instructions(path)
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_api_image_runs_as_a_non_root_user() -> None:
    users = [args for op, args in _final_stage(API_DOCKERFILE) if op == "USER"]
    assert users, "the runtime stage never switches user"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_api_image_installs_the_locked_runtime_dependencies_only() -> None:
    syncs = [
        args for op, args in _instructions(API_DOCKERFILE) if op == "RUN" and "uv sync" in args
    ]
    assert syncs
    for args in syncs:
        assert "--frozen" in args and "--no-dev" in args, args


def test_api_image_is_multi_stage_with_python_312_and_node_20() -> None:
    instructions = _instructions(API_DOCKERFILE)
    args = {
        a.split("=", 1)[0]: a.split("=", 1)[1] for op, a in instructions if op == "ARG" and "=" in a
    }
    assert args["PYTHON_IMAGE"].startswith("python:3.12-slim")
    assert args["NODE_IMAGE"].startswith("node:20")
    stages = [a for op, a in instructions if op == "FROM"]
    assert len(stages) >= 3
    # The web export built in the node stage ends up where the API serves it from.
    copies = [a for op, a in _final_stage(API_DOCKERFILE) if op == "COPY"]
    assert any(a.startswith("--from=web /web/out /app/web/out") for a in copies)


def test_uv_is_pinned_to_an_exact_version() -> None:
    # A floating uv tag could meet a lock format it does not know and break `--frozen` builds.
    pinned = re.search(r"^ARG UV_VERSION=(\S+)$", API_DOCKERFILE.read_text(), re.MULTILINE)
    assert pinned, "api.Dockerfile does not pin UV_VERSION"
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned.group(1))
    assert "FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv" in API_DOCKERFILE.read_text()


def test_api_image_copies_every_packaged_module() -> None:
    # A package added to the wheel must also reach the image, or imports fail only in production.
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = {a.split()[0] for op, a in _instructions(API_DOCKERFILE) if op == "COPY"}
    assert set(packages) <= copied, f"not copied into the image: {set(packages) - copied}"
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert not set(packages) & ignored


def test_api_image_health_checks_and_serves_on_all_interfaces() -> None:
    final = _final_stage(API_DOCKERFILE)
    (health,) = [a for op, a in final if op == "HEALTHCHECK"]
    assert "http://127.0.0.1:8000/api/health" in health
    (cmd,) = [a for op, a in final if op == "CMD"]
    assert cmd == '["cryptofirm", "serve", "--host", "0.0.0.0", "--port", "8000"]'


@pytest.mark.parametrize("path", [API_DOCKERFILE, WEB_DOCKERFILE], ids=lambda p: p.name)
def test_dockerfiles_bake_in_no_secrets(path: Path) -> None:
    secretish = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)", re.IGNORECASE)
    for op, args in _instructions(path):
        if op in {"ENV", "ARG"}:
            assert not secretish.search(args), f"{path.name}: {op} {args}"
    assert not re.search(r"COPY\s+\S*\.env\b", path.read_text())


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {"**/.env", ".git", ".venv", "var", "web/node_modules", "web/out"} <= ignored


def test_web_image_exports_only_the_static_files() -> None:
    instructions = _instructions(WEB_DOCKERFILE)
    assert instructions[-2][0] == "FROM" and instructions[-2][1].startswith("scratch")
    assert instructions[-1] == ("COPY", "--from=build /web/out /")


def _run_entrypoint(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", 'printf "%s" "$DATABASE_URL"'],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_entrypoint_builds_the_database_url_from_its_parts() -> None:
    done = _run_entrypoint(
        {
            "DB_HOST": "db.internal",
            "DB_PORT": "6543",
            "DB_NAME": "cryptofirm",
            "DB_USERNAME": "app",
            "DB_PASSWORD": "p@ss/w:rd",
            "DB_SSLMODE": "require",
        }
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "postgresql+psycopg://app:p%40ss%2Fw%3Ard@db.internal:6543/cryptofirm?sslmode=require"
    )


def test_entrypoint_keeps_an_explicit_database_url() -> None:
    done = _run_entrypoint({"DATABASE_URL": "sqlite:///x.db", "DB_HOST": "ignored"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "sqlite:///x.db"


def test_entrypoint_names_a_missing_part() -> None:
    done = _run_entrypoint({"DB_HOST": "db", "DB_USERNAME": "app", "DB_NAME": "cryptofirm"})
    assert done.returncode != 0
    assert "DB_PASSWORD" in done.stderr
