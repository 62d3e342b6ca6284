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
    text = API_DOCKERFILE.read_text()
    pinned = re.search(r"^ARG UV_VERSION=(\S+)$", text, re.MULTILINE)
    assert pinned, "api.Dockerfile does not pin UV_VERSION"
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned.group(1))
    # The official image by default; a local stand-in may be passed as UV_IMAGE.
    assert "ARG UV_IMAGE=ghcr.io/astral-sh/uv:${UV_VERSION}" in text
    assert "FROM ${UV_IMAGE} AS uv" in text


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


def _stage(path: Path, name: str) -> list[tuple[str, str]]:
    instructions = _instructions(path)
    starts = [i for i, (op, args) in enumerate(instructions) if op == "FROM"]
    for begin, end in zip(starts, [*starts[1:], len(instructions)], strict=True):
        if instructions[begin][1].endswith(f" AS {name}"):
            return instructions[begin:end]
    raise AssertionError(f"{path.name} has no stage {name}")


def test_web_export_stage_holds_only_the_static_files() -> None:
    export = _stage(WEB_DOCKERFILE, "export")
    assert export[0][1].startswith("scratch")
    assert export[1:] == [("COPY", "--from=build /web/out /")]


def test_web_image_serves_the_export_as_non_root_with_a_healthcheck() -> None:
    serve = _final_stage(WEB_DOCKERFILE)
    assert serve[0][1] == "${NGINX_IMAGE} AS serve"
    assert ("COPY", "--from=build /web/out /usr/share/nginx/html") in serve
    users = [args for op, args in serve if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    (health,) = [a for op, a in serve if op == "HEALTHCHECK"]
    assert "http://127.0.0.1:8080/healthz" in health
    conf = (DOCKER_DIR / "nginx.conf").read_text()
    assert "proxy_pass http://api:8000;" in conf and "proxy_buffering off;" in conf
    assert "listen 8080;" in conf and "pid /tmp/nginx.pid;" in conf


@pytest.mark.parametrize("path", [API_DOCKERFILE, WEB_DOCKERFILE], ids=lambda p: p.name)
def test_base_images_are_build_arguments_with_official_defaults(path: Path) -> None:
    instructions = _instructions(path)
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for op, a in instructions if op == "ARG"}
    official = {
        "PYTHON_IMAGE": "python:3.12-slim",
        "NODE_IMAGE": "node:20",
        "NGINX_IMAGE": "nginxinc/nginx-unprivileged:",
        "UV_IMAGE": "ghcr.io/astral-sh/uv:",
    }
    for op, image in instructions:
        if op != "FROM" or image.startswith("scratch"):
            continue
        ref = image.split()[0]
        if ref in {"${PYTHON_IMAGE}", "${NODE_IMAGE}", "${NGINX_IMAGE}", "${UV_IMAGE}"}:
            name = ref[2:-1]
            assert args[name].startswith(official[name]), (name, args[name])
        else:  # an earlier stage of the same file
            assert not any(c in ref for c in "/:$"), f"{path.name}: FROM {ref} is hard-coded"


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
