"""Parsed files for the static infrastructure checks (no Docker engine, no AWS needed)."""

from __future__ import annotations

from typing import Any

import pytest
from infra_paths import AWS_DIR, STACK_FILES, load_template


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    assert STACK_FILES, f"no CloudFormation templates under {AWS_DIR}"
    return {path.stem: load_template(path) for path in STACK_FILES}
