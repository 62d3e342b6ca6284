"""Storage of dated headlines: all-or-nothing import and the point-in-time loader.

`import_headlines` writes a validated list (see `tools.headlines.read_headline_csv`) in one
transaction; a headline already stored with the same time, source and title is skipped, and
one stored with different availability or currencies is a conflict reported before anything
is written (`replace=True` overwrites). `headline_loader(engine)` is the
`tools.headlines.HeadlineLoader` the sentiment provider calls with the decision time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from persistence.models import HeadlineRow
from tools.headlines import DatedHeadline, HeadlineLoader


def headline_key(h: DatedHeadline) -> str:
    raw = f"{h.published_at.isoformat()}|{h.source}|{h.title}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _currencies(h: DatedHeadline) -> str:
    return "|" + "|".join(sorted(set(h.currencies))) + "|"


@dataclass
class HeadlineImport:
    inserted: int = 0
    unchanged: int = 0
    replaced: int = 0
    conflicts: list[str] = field(default_factory=list)
    """First examples of stored headlines that differ from the file (not written)."""
    conflict_count: int = 0


class HeadlineConflictError(ValueError):
    def __init__(self, result: HeadlineImport) -> None:
        super().__init__(
            f"{result.conflict_count} headline(s) already stored with other values (e.g. "
            f"{'; '.join(result.conflicts)}); nothing written. Use --replace to overwrite them."
        )
        self.result = result


def import_headlines(
    engine: Engine, headlines: list[DatedHeadline], *, replace: bool = False
) -> HeadlineImport:
    rows: dict[str, dict[str, object]] = {}
    for h in headlines:
        rows[headline_key(h)] = {
            "key": headline_key(h),
            "published_at": h.published_at,
            "available_at": h.available_at,
            "title": h.title,
            "source": h.source,
            "currencies": _currencies(h),
            "url": h.url,
        }
    result = HeadlineImport()
    with engine.begin() as conn:
        stored: dict[str, tuple[datetime, str]] = {}
        keys = list(rows)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            query = select(HeadlineRow.key, HeadlineRow.available_at, HeadlineRow.currencies)
            for key, available, currencies in conn.execute(query.where(HeadlineRow.key.in_(chunk))):
                stored[key] = (available, currencies)
        changed = [
            k
            for k, (available, cur) in stored.items()
            if (available, cur) != (rows[k]["available_at"], rows[k]["currencies"])
        ]
        result.conflict_count = len(changed)
        result.conflicts = [
            f"{rows[k]['published_at']} {str(rows[k]['title'])[:60]!r}" for k in changed[:3]
        ]
        if changed and not replace:
            raise HeadlineConflictError(result)
        if changed:
            conn.execute(delete(HeadlineRow).where(HeadlineRow.key.in_(changed)))
            result.replaced = len(changed)
        new = [r for k, r in rows.items() if k not in stored or k in changed]
        if new:
            conn.execute(insert(HeadlineRow), new)
        result.inserted = len(new) - result.replaced
        result.unchanged = len(stored) - len(changed)
    return result


def headline_loader(engine: Engine) -> HeadlineLoader:
    """Headlines of `asset` with `after < available_at <= at`, newest first."""

    def load(asset: str, after: datetime, at: datetime, limit: int) -> list[DatedHeadline]:
        query = (
            select(HeadlineRow)
            .where(
                HeadlineRow.available_at > after,
                HeadlineRow.available_at <= at,
                HeadlineRow.currencies.contains(f"|{asset.upper()}|"),
            )
            .order_by(HeadlineRow.available_at.desc(), HeadlineRow.published_at.desc())
            .limit(limit)
        )
        with engine.connect() as conn:
            found = conn.execute(query).all()
        return [
            DatedHeadline(
                published_at=row.published_at,
                available_at=row.available_at,
                title=row.title,
                source=row.source,
                currencies=[c for c in row.currencies.split("|") if c],
                url=row.url,
            )
            for row in found
        ]

    return load
