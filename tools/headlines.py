"""Dated headlines: the CSV format, its all-or-nothing validation, and the loader seam.

A headline file has one row per story: `published_at` (ISO-8601, UTC when no offset),
`available_at` or `available_at_conservative` (when the story may first be shown to a
decision), `title`, `source`, `currencies` (`BTC`, `ETH` or `BTC|ETH`); other columns are
ignored. `read_headline_csv` validates every row before anything is stored: the first bad row
raises `HeadlineFileError` naming its line, field and value.

Storage lives in `persistence.headlines`; the sentiment provider only sees a `HeadlineLoader`
callable, so `tools/` never imports `persistence/`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

AVAILABLE_COLUMNS = ("available_at", "available_at_conservative")
REQUIRED_COLUMNS = ("published_at", "title", "source", "currencies")
MAX_TITLE = 500


class DatedHeadline(BaseModel):
    published_at: datetime
    available_at: datetime = Field(description="first moment a decision may see the story")
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    source: str = Field(default="", max_length=120)
    currencies: list[str] = Field(min_length=1, description="base assets, e.g. ['BTC', 'ETH']")
    url: str | None = None


HeadlineLoader = Callable[[str, datetime, datetime, int], list[DatedHeadline]]
"""(asset, after, at, limit) → the asset's headlines with `after < available_at <= at`, newest
first, at most `limit`."""


class HeadlineFileError(ValueError):
    """A headline file cannot be imported; names the line, field and value."""

    def __init__(self, path: Path, line: int | None, field: str, value: object, why: str) -> None:
        where = f"{path} line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {field}={value!r}: {why}")
        self.line, self.field, self.value = line, field, value


def _utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _row(path: Path, line: int, row: dict[str, str], available_col: str) -> DatedHeadline:
    values: dict[str, datetime] = {}
    for field in ("published_at", available_col):
        raw = row.get(field) or ""
        try:
            values[field] = _utc(raw)
        except ValueError:
            raise HeadlineFileError(path, line, field, raw, "not an ISO-8601 time") from None
    title = (row.get("title") or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise HeadlineFileError(path, line, "title", title, f"empty or over {MAX_TITLE} chars")
    raw_currencies = row.get("currencies") or ""
    currencies = [c.strip().upper() for c in raw_currencies.split("|") if c.strip()]
    if not currencies or not all(c.isalnum() for c in currencies):
        raise HeadlineFileError(path, line, "currencies", raw_currencies, "expected e.g. BTC|ETH")
    if values[available_col] < values["published_at"]:
        raise HeadlineFileError(
            path, line, available_col, row.get(available_col), "before published_at"
        )
    source = (row.get("source") or "").strip()
    if len(source) > 120:
        raise HeadlineFileError(path, line, "source", source, "over 120 chars")
    return DatedHeadline(
        published_at=values["published_at"],
        available_at=values[available_col],
        title=title,
        source=source,
        currencies=currencies,
        url=(row.get("url") or "").strip() or None,
    )


def read_headline_csv(path: Path) -> list[DatedHeadline]:
    """Every row of `path`, validated; the first bad row raises (nothing is half-read)."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise HeadlineFileError(path, None, "path", str(path), str(exc)) from exc
    with fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        available_col = next((c for c in AVAILABLE_COLUMNS if c in columns), None)
        if missing or available_col is None:
            need = missing + ([] if available_col else ["available_at"])
            raise HeadlineFileError(path, 1, "header", columns, f"missing column(s) {need}")
        rows = [_row(path, line, row, available_col) for line, row in enumerate(reader, start=2)]
    if not rows:
        raise HeadlineFileError(path, None, "rows", 0, "the file has no headlines")
    return rows


def memory_loader(headlines: Iterable[DatedHeadline]) -> HeadlineLoader:
    """A `HeadlineLoader` over headlines held in memory (tests, one-off files)."""
    ordered = sorted(headlines, key=lambda h: (h.available_at, h.published_at), reverse=True)

    def load(asset: str, after: datetime, at: datetime, limit: int) -> list[DatedHeadline]:
        picked = [
            h for h in ordered if after < h.available_at <= at and asset.upper() in h.currencies
        ]
        return picked[:limit]

    return load
