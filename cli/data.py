"""`cryptofirm data …` — owned by the market-data work (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
