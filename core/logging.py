"""Logging set-up shared by the CLI, the API, the worker and the Agent Server.

Two formats on stderr, one set of fields:

- `plain` (default, `make demo`): `time LEVEL logger: message [run_id=… agent=…]`;
- `json` (`LOG_FORMAT=json`, containers and the cloud): one JSON object per line with
  `timestamp`, `level`, `logger`, `event` (the message) and the bound context.

Context (`run_id`, `run_kind`, `session_id`, `agent`, `job_id`) lives in contextvars, bound
with `log_context(...)` (a `with` block) or `bind_log_context(...)` (until the task ends): an
asyncio task and `asyncio.to_thread` inherit it, so every line logged while a run, a job or an
agent call is in progress carries its ids without passing them around. Rendering is
structlog's `ProcessorFormatter`, so the standard `logging.getLogger(...)` calls everywhere
need no change.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, get_contextvars

CONTEXT_KEYS = ("run_id", "run_kind", "session_id", "agent", "job_id")
_ORDER = {key: i for i, key in enumerate(CONTEXT_KEYS)}
NOISY_LOGGERS = ("httpx", "httpcore", "urllib3", "numba")

_configured: tuple[str, str] | None = None


def _drop_color_message(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn passes an ANSI-coloured copy of its message as `extra`: not for JSON."""
    event_dict.pop("color_message", None)
    return event_dict


def _json_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),  # `extra={...}` fields become JSON fields
            _drop_color_message,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


class PlainFormatter(logging.Formatter):
    """The human format, with the bound context appended when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = get_contextvars()
        if not context:
            return line
        keys = sorted(context, key=lambda k: (k not in CONTEXT_KEYS, _ORDER.get(k, 0), k))
        fields = " ".join(f"{key}={context[key]}" for key in keys)
        return f"{line} [{fields}]"


class _OwnHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs (and replaces when called again)."""


def configure_logging(
    level: str = "INFO", fmt: str = "plain", *, stream: TextIO | None = None, force: bool = False
) -> None:
    """Install one stderr handler on the root logger (idempotent unless `force`)."""
    global _configured
    if fmt not in ("plain", "json"):
        raise ValueError(f"log_format: must be plain or json (got {fmt!r})")
    if _configured is not None and not force:
        return
    handler = _OwnHandler(stream or sys.stderr)
    handler.setFormatter(_json_formatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):  # ours from an earlier call; other handlers stay
        if isinstance(old, _OwnHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter that drowns our own lines at INFO.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = (level, fmt)


def configure_from_settings(settings: Any, *, force: bool = False) -> None:
    """`configure_logging` with `LOG_LEVEL` and `LOG_FORMAT` (core.settings.Settings)."""
    configure_logging(settings.log_level, str(settings.log_format), force=force)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind context fields (e.g. `run_id`, `agent`) for the lines logged inside the block."""
    with bound_contextvars(**{k: v for k, v in fields.items() if v is not None}):
        yield


def bind_log_context(**fields: Any) -> None:
    """Bind context fields until the current task (or thread's context) ends."""
    bind_contextvars(**{k: v for k, v in fields.items() if v is not None})
