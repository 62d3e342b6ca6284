"""The Alembic migrations build exactly the models' schema on SQLite and on Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from persistence.db import (
    SCHEMA_HEAD,
    alembic_config,
    downgrade,
    init_db,
    make_engine,
    schema_revision,
    session_scope,
    upgrade,
)
from persistence.models import Base, Portfolio


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_matches_models(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert _tables(empty_db_url) == set(Base.metadata.tables)
    assert _diff(empty_db_url) == []

    downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()

    upgrade(empty_db_url)
    assert _diff(empty_db_url) == []


def test_money_round_trips_exactly(db_url: str) -> None:
    engine = make_engine(db_url)
    amount = Decimal("12345678901234567.0123456789")
    with session_scope(engine) as s:
        s.add(Portfolio(name="p", starting_cash=amount, risk={}, created_at=datetime.now(UTC)))
    with session_scope(engine) as s:
        stored = s.scalars(select(Portfolio.starting_cash)).one()
    engine.dispose()
    assert stored == amount
    assert isinstance(stored, Decimal)


def test_schema_head_constant_matches_alembic(sqlite_empty_url: str) -> None:
    """init_db's fast path trusts SCHEMA_HEAD; a new migration must update it."""
    script = ScriptDirectory.from_config(alembic_config(sqlite_empty_url))
    assert script.get_heads() == [SCHEMA_HEAD]


def test_init_db_migrates_a_fresh_database_and_skips_one_at_head(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert schema_revision(engine) is None
        init_db(empty_db_url)
        assert schema_revision(engine) == SCHEMA_HEAD
        assert _tables(empty_db_url) == set(Base.metadata.tables)
        init_db(empty_db_url)  # at head: a no-op, and still at head
        assert schema_revision(engine) == SCHEMA_HEAD
    finally:
        engine.dispose()
