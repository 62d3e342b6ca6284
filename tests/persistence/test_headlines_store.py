"""Dated headlines in the database: all-or-nothing imports and the point-in-time loader, on
SQLite and on the real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from persistence.headlines import HeadlineConflictError, headline_loader, import_headlines
from persistence.models import HeadlineRow
from tools.headlines import DatedHeadline


def h(title: str, day: int, currencies: list[str], lag_h: int = 24) -> DatedHeadline:
    published = datetime(2023, 3, day, 8, tzinfo=UTC)
    return DatedHeadline(
        published_at=published,
        available_at=published + timedelta(hours=lag_h),
        title=title,
        source="wire",
        currencies=currencies,
    )


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(HeadlineRow)).scalar_one())


def test_import_is_idempotent_and_conflicts_write_nothing(engine: Engine) -> None:
    rows = [h("Bitcoin a", 1, ["BTC"]), h("Both b", 2, ["BTC", "ETH"]), h("Ether c", 3, ["ETH"])]
    first = import_headlines(engine, rows)
    assert (first.inserted, first.unchanged) == (3, 0)
    again = import_headlines(engine, rows)
    assert (again.inserted, again.unchanged) == (0, 3) and count(engine) == 3
    changed = [h("Bitcoin a", 1, ["BTC"], lag_h=48), h("New d", 4, ["BTC"])]
    with pytest.raises(HeadlineConflictError, match="1 headline"):
        import_headlines(engine, changed)
    assert count(engine) == 3  # the new row was not written either
    replaced = import_headlines(engine, changed, replace=True)
    assert (replaced.inserted, replaced.replaced) == (1, 1) and count(engine) == 4


def test_loader_returns_only_the_assets_public_headlines(engine: Engine) -> None:
    import_headlines(
        engine,
        [h("Bitcoin a", 1, ["BTC"]), h("Both b", 2, ["BTC", "ETH"]), h("Ether c", 3, ["ETH"])],
    )
    load = headline_loader(engine)
    at = datetime(2023, 3, 3, 8, tzinfo=UTC)  # "Both b" available exactly now
    btc = load("BTC", at - timedelta(days=3), at, 8)
    assert [x.title for x in btc] == ["Both b", "Bitcoin a"]
    assert all(x.available_at <= at for x in btc)
    assert [x.title for x in load("ETH", at - timedelta(days=3), at, 8)] == ["Both b"]
    assert load("SOL", at - timedelta(days=3), at, 8) == []
    assert [x.title for x in load("BTC", at - timedelta(days=3), at, 1)] == ["Both b"]
