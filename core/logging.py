"""Logging set-up shared by the CLI, the API and the Agent Server."""

from __future__ import annotations

import logging

_CONFIGURED = False


def configure_logging(level: str = "INFO") -> None:
    global _CONFIGURED
    if _CONFIGURED:
        return
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party chatter that drowns our own lines at INFO.
    for noisy in ("httpx", "httpcore", "urllib3", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _CONFIGURED = True
