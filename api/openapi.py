"""Export the API's OpenAPI schema: `python -m api.openapi [PATH]` (default web/openapi.json).

The web UI generates its TypeScript types from this file (`npm run gen:api`); a test checks
the committed file matches the app, so regenerate it after changing a route or model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from core.settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "web" / "openapi.json"


def openapi_document() -> dict[str, Any]:
    from api.main import create_app
    from core.settings import Settings

    # Fixed settings: the document must not depend on the local environment or `.env`.
    schema: dict[str, Any] = create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return schema


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
