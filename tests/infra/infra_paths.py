"""Where the infrastructure files live, and how to parse a CloudFormation template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
AWS_DIR = INFRA_DIR / "aws"
DOCKER_DIR = INFRA_DIR / "docker"
STACK_FILES = sorted(AWS_DIR.glob("*.yaml"))


def load_template(path: Path) -> dict[str, Any]:
    """Parse a template with cfn-lint's decoder, which understands `!Ref`, `!Sub` and friends."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    assert not matches, f"{path.name} does not parse: {[str(m) for m in matches]}"
    assert template is not None
    return dict(template)
