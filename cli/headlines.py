"""`cryptofirm data import-headlines FILE`: dated headlines for point-in-time sentiment.

All or nothing: a bad row ends with `error: <file> line N: field=value: why`, exit 2, and
nothing written; headlines already stored with other values are reported and left alone
unless `--replace`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from core.settings import Settings


def import_headlines(
    path: Path,
    replace: Annotated[
        bool, typer.Option("--replace", help="overwrite stored headlines that differ")
    ] = False,
) -> None:
    """Import a headline CSV (published_at, available_at[_conservative], title, source,
    currencies) into the database; shown to decisions only from its available time."""
    from core.settings import get_settings
    from persistence.db import init_db
    from persistence.headlines import HeadlineConflictError, import_headlines
    from tools.headlines import HeadlineFileError, read_headline_csv

    try:
        headlines = read_headline_csv(path)
    except HeadlineFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    engine = init_db(get_settings().database_url)
    try:
        result = import_headlines(engine, headlines, replace=replace)
    except HeadlineConflictError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    first = min(h.available_at for h in headlines)
    last = max(h.available_at for h in headlines)
    typer.echo(
        f"import-headlines {path.name}: {len(headlines)} rows read, {result.inserted} new, "
        f"{result.unchanged} already stored, {result.replaced} replaced; available "
        f"{first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M} UTC"
    )


DEMO_HEADLINES = Path("Xtra-Computing__CryptoTrade") / "headlines_btc_eth_2023.csv"


def ensure_demo_headlines(settings: Settings) -> list[str]:
    """The demo's backtests see dated headlines: import the shared file when present
    (idempotent; a conflicting stored copy is reported, not overwritten)."""
    from persistence.db import init_db
    from persistence.headlines import HeadlineConflictError, import_headlines
    from tools.headlines import HeadlineFileError, read_headline_csv

    path = settings.sentiment_data_dir / DEMO_HEADLINES
    if not path.is_file():
        return [f"headlines: none at {path}; backtests will tell the desk there are none"]
    try:
        result = import_headlines(init_db(settings.database_url), read_headline_csv(path))
    except (HeadlineFileError, HeadlineConflictError) as exc:
        return [f"headlines: not imported: {exc}"]
    return [f"headlines: {result.inserted} new, {result.unchanged} already stored ({path.name})"]
