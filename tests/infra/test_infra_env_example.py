"""`.env.example` documents every setting, names nothing that does not exist, and its examples
are values `Settings` accepts — so it stays honest as settings are added."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from infra_paths import REPO_ROOT
from pydantic import ValidationError

from core.settings import Settings

ENV_EXAMPLE = REPO_ROOT / ".env.example"
# Assignments, active or commented out: `KEY=value` or `# KEY=value`.
ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
# Read by libraries (LangSmith) or by infra/compose.yaml, not by core/settings.py.
NOT_SETTINGS = {
    "LANGSMITH_TRACING",
    "LANGSMITH_API_KEY",
    "LANGSMITH_PROJECT",
    "POSTGRES_PASSWORD",
    "API_PORT",
}


def _assignments(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            key, value = match.groups()
            assert key not in found, f"{key} is documented twice in .env.example"
            found[key] = value
    return found


def _settings_env_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_every_setting_is_documented() -> None:
    documented = set(_assignments(ENV_EXAMPLE.read_text()))
    missing = sorted(_settings_env_names() - documented)
    assert not missing, f".env.example does not document: {missing}"


def test_nothing_documented_that_does_not_exist() -> None:
    documented = set(_assignments(ENV_EXAMPLE.read_text()))
    unknown = sorted(documented - _settings_env_names() - NOT_SETTINGS)
    assert not unknown, f".env.example documents unknown settings: {unknown}"


def test_langsmith_variables_are_documented() -> None:
    documented = set(_assignments(ENV_EXAMPLE.read_text()))
    assert {"LANGSMITH_TRACING", "LANGSMITH_API_KEY", "LANGSMITH_PROJECT"} <= documented


def test_copying_the_example_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every line is commented out, so `cp .env.example .env` keeps the built-in defaults.
    for name in _settings_env_names():
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text())
    assert Settings(_env_file=env_file) == Settings(_env_file=None)  # type: ignore[call-arg]


def test_every_example_value_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _settings_env_names():
        monkeypatch.delenv(name, raising=False)
    examples = _assignments(ENV_EXAMPLE.read_text())
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in examples.items()))
    try:
        settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        pytest.fail(f".env.example holds a value Settings rejects: {exc}")
    # The file really was read: the Postgres example replaced the SQLite default.
    assert settings.is_postgres
    assert settings.llm_api_key is not None
