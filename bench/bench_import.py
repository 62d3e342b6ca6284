"""Import throughput of the real 58,419-row BTC 1h file into SQLite and Postgres (rows/s).

Each backend gets a fresh database: a temporary SQLite file, and a temporary Postgres database
created on 127.0.0.1:5432 and dropped afterwards. The second import of the same file measures
the idempotent path (every row hits ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

from bench import REAL_BTC_1H

PG_ADMIN_DSN = os.environ.get("CRYPTOFIRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _measure(url: str, label: str) -> tuple[float, float]:
    from persistence.candles import SqlCandleStore
    from persistence.db import make_engine, upgrade
    from tools.importers import import_file, read_candle_file

    upgrade(url)
    engine = make_engine(url)
    store = SqlCandleStore(engine)
    try:
        started = time.perf_counter()
        parsed = read_candle_file(REAL_BTC_1H)
        parse_s = time.perf_counter() - started
        started = time.perf_counter()
        first = import_file(store, REAL_BTC_1H)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = import_file(store, REAL_BTC_1H)
        second_s = time.perf_counter() - started
    finally:
        engine.dispose()
    rows = len(parsed.frame)
    print(
        f"{label:9s} parse {rows / parse_s:>10,.0f} rows/s | first import {first.rows_new} new "
        f"in {first_s:.2f}s = {rows / first_s:>8,.0f} rows/s | re-import {second.rows_new} new "
        f"in {second_s:.2f}s = {rows / second_s:>8,.0f} rows/s"
    )
    return rows / first_s, rows / second_s


def _postgres_url() -> tuple[str, str] | None:
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"postgres  skipped: no server at {PG_ADMIN_DSN} ({str(exc).splitlines()[0]})")
        return None
    name = f"cryptofirm_bench_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", name


def _drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    if not REAL_BTC_1H.is_file():
        print(f"skipped: real data file not found at {REAL_BTC_1H}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_first, sqlite_again = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite")
    target = _postgres_url()
    if target is None:
        return
    url, name = target
    try:
        pg_first, pg_again = _measure(url, "postgres")
    finally:
        _drop_postgres(name)
    print(
        f"ratio postgres/sqlite: first import {pg_first / sqlite_first:.2f}x, "
        f"re-import {pg_again / sqlite_again:.2f}x"
    )


if __name__ == "__main__":
    main()
