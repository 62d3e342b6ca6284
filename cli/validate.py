"""Option checks shared by the commands: the bounds of `core.bounds` (the same the API uses),
refused with one `error: --option: …` line and exit code 2 before any work starts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError

EXIT_BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def first_error(exc: ValidationError, names: dict[str, str] | None = None) -> str:
    """`option: message` of a pydantic error; `names` maps model fields to option names."""
    error = exc.errors()[0]
    ctx: dict[str, Any] = error.get("ctx") or {}
    field = str(ctx.get("field") or ".".join(str(p) for p in error["loc"]) or "input")
    message = str(ctx.get("message") or error["msg"]).removeprefix("Value error, ")
    return f"{(names or {}).get(field, field)}: {message}"


def check(kind: Any, value: object, option: str) -> Any:
    """`value` validated as the `core.bounds` type `kind`, or exit 2 naming `option`."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        fail(first_error(exc, {"input": option}))


def parse_time(value: str, option: str) -> datetime:
    """An ISO date or time (naive = UTC) within the data's era (2009-01-03 … now)."""
    from core.bounds import PastTime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date like 2023-01-31 (or an ISO time)")
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    result: datetime = check(PastTime, parsed, option)
    return result


def symbol(value: str, option: str = "SYMBOL") -> str:
    """BTC/USDT, btc-usdt, BTCUSDT → BTCUSDT, checked against `core.bounds.Symbol`."""
    from core.bounds import Symbol

    compact = re.sub(r"[/_\-]", "", value.strip()).upper()
    result: str = check(Symbol, compact, option)
    return result


def interval(value: str, option: str = "--interval") -> str:
    from core.bounds import Interval

    result: str = check(Interval, value, option)
    return result


def fresh_export_path(path: Path | None, option: str = "--export") -> None:
    """An export target must not hold anything yet (checked before the run, not after it)."""
    if path is None:
        return
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        fail(f"{option}: {path} exists and is not empty; choose a new directory")
