"""The candle store: validated, idempotent writes and reads over the `candles` table.

Frames are checked by `tools.candle_frame` (validation, gaps) before they are written. A write
never mixes market kinds in one series (synthetic rows beside real ones) and reports stored
candles whose values differ from the incoming ones (`Conflict`); `overwrite` decides whether
they are replaced. `SqlCandleStore` is the `tools.candle_store.CandleStore` the source chain
reads through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from persistence.models import Candle
from tools.candle_frame import (
    FRAME_COLUMNS,
    OHLCV,
    Gap,
    empty_frame,
    find_gaps,
    ms_to_datetime,
    validate_candles,
)
from tools.candle_store import Conflict, Overwrite, StoredSeries, StoreReport
from tools.provenance import MixedSourceError, market_kind

MAX_CONFLICT_EXAMPLES = 5
DEFAULT_BATCH_SIZE = 5_000
CANDLE_TABLE = cast(Table, Candle.__table__)


def _insert_statement(conn: Connection):  # type: ignore[no-untyped-def]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return pg_insert(CANDLE_TABLE).on_conflict_do_nothing(constraint="uq_candles_key")
    if dialect == "sqlite":
        return sqlite_insert(CANDLE_TABLE).on_conflict_do_nothing(
            index_elements=["symbol", "interval", "open_time"]
        )
    raise ValueError(f"unsupported database dialect {dialect!r}; use sqlite or postgresql")


def _count_in_range(conn: Connection, symbol: str, interval: str, first: int, last: int) -> int:
    query = select(func.count()).where(
        Candle.symbol == symbol,
        Candle.interval == interval,
        Candle.open_time >= first,
        Candle.open_time <= last,
    )
    return int(conn.execute(query).scalar_one())


def insert_candles(
    conn: Connection,
    symbol: str,
    interval: str,
    frame: pd.DataFrame,
    *,
    source: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """INSERT … ON CONFLICT DO NOTHING in batches, inside the caller's transaction.

    `frame` must already be validated. Returns the number of rows actually new; counting the
    key range before and after is exact on both backends, unlike executemany rowcounts.
    """
    if frame.empty:
        return 0
    first, last = int(frame["open_time"].iloc[0]), int(frame["open_time"].iloc[-1])
    first, last = min(first, last), max(first, last)
    before = _count_in_range(conn, symbol, interval, first, last)
    if conn.dialect.name == "postgresql":
        _copy_insert_postgres(conn, symbol, interval, frame, source, batch_size, on_batch)
        return _count_in_range(conn, symbol, interval, first, last) - before
    statement = _insert_statement(conn)
    columns = {name: frame[name].to_numpy() for name in FRAME_COLUMNS}
    for offset in range(0, len(frame), batch_size):
        stop = min(offset + batch_size, len(frame))
        rows = [
            {
                "symbol": symbol,
                "interval": interval,
                "source": source,
                "open_time": int(columns["open_time"][i]),
                **{name: float(columns[name][i]) for name in OHLCV},
            }
            for i in range(offset, stop)
        ]
        conn.execute(statement, rows)
        if on_batch is not None:
            on_batch(stop - offset)
    return _count_in_range(conn, symbol, interval, first, last) - before


def _copy_insert_postgres(
    conn: Connection,
    symbol: str,
    interval: str,
    frame: pd.DataFrame,
    source: str,
    batch_size: int,
    on_batch: Callable[[int], None] | None,
) -> None:
    """COPY into a temp table, then one INSERT … SELECT … ON CONFLICT DO NOTHING: several
    times faster than executemany on Postgres, and still inside the caller's transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS candles_incoming "
            "(open_time BIGINT, open FLOAT8, high FLOAT8, low FLOAT8, close FLOAT8, "
            "volume FLOAT8) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE candles_incoming")
        columns = [frame[name].to_numpy() for name in FRAME_COLUMNS]
        with cursor.copy(
            "COPY candles_incoming (open_time, open, high, low, close, volume) FROM STDIN"
        ) as copy:
            for offset in range(0, len(frame), batch_size):
                stop = min(offset + batch_size, len(frame))
                for i in range(offset, stop):
                    copy.write_row([int(columns[0][i]), *(float(c[i]) for c in columns[1:])])
                if on_batch is not None:
                    on_batch(stop - offset)
        cursor.execute(
            "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, "
            "source) SELECT %s, %s, open_time, open, high, low, close, volume, %s "
            "FROM candles_incoming ON CONFLICT ON CONSTRAINT uq_candles_key DO NOTHING",
            (symbol, interval, source),
        )
        cursor.execute("TRUNCATE candles_incoming")


def _check_kind(conn: Connection, symbol: str, interval: str, source: str) -> None:
    """A series holds one market kind: synthetic rows never join real ones (or vice versa)."""
    query = (
        select(Candle.source).where(Candle.symbol == symbol, Candle.interval == interval).distinct()
    )
    kind = market_kind(source)
    for stored in conn.execute(query).scalars():
        if market_kind(stored) != kind:
            raise MixedSourceError(
                f"source: {symbol} {interval} already holds {market_kind(stored)} candles "
                f"({stored}); refusing to add {kind} ones ({source}) to the same series"
            )


def _conflicts(
    conn: Connection, symbol: str, interval: str, frame: pd.DataFrame
) -> tuple[pd.DataFrame, list[Conflict]]:
    """Incoming rows whose stored twin has different values (all of them, and examples)."""
    if frame.empty:
        return frame.iloc[:0], []
    first, last = int(frame["open_time"].min()), int(frame["open_time"].max())
    t = CANDLE_TABLE
    rows = conn.execute(
        select(t.c.open_time, t.c.open, t.c.high, t.c.low, t.c.close, t.c.volume, t.c.source)
        .where(t.c.symbol == symbol, t.c.interval == interval)
        .where(t.c.open_time >= first, t.c.open_time <= last)
    ).all()
    if not rows:
        return frame.iloc[:0], []
    stored = pd.DataFrame(rows, columns=[*FRAME_COLUMNS, "source"])
    both = frame.merge(stored, on="open_time", suffixes=("", "_stored"))
    differs = np.zeros(len(both), dtype=bool)
    for name in OHLCV:
        differs |= ~np.isclose(
            both[name].to_numpy(dtype="float64"),
            both[f"{name}_stored"].to_numpy(dtype="float64"),
            rtol=1e-12,
            atol=0.0,
        )
    changed = both.loc[differs]
    examples = [
        Conflict(
            open_time=int(rec["open_time"]),
            stored_source=str(rec["source"]),
            stored={n: float(rec[f"{n}_stored"]) for n in OHLCV},
            incoming={n: float(rec[n]) for n in OHLCV},
        )
        for rec in changed.head(MAX_CONFLICT_EXAMPLES).to_dict("records")
    ]
    return changed, examples


def _replace(
    conn: Connection, symbol: str, interval: str, changed: pd.DataFrame, source: str, mode: str
) -> int:
    if mode == "never" or changed.empty:
        return 0
    if mode == "same_source":
        changed = changed.loc[changed["source"] == source]
    if changed.empty:
        return 0
    t = CANDLE_TABLE
    statement = (
        update(t)
        .where(
            t.c.symbol == symbol,
            t.c.interval == interval,
            t.c.open_time == bindparam("key_time"),
        )
        .values(
            open=bindparam("v_open"),
            high=bindparam("v_high"),
            low=bindparam("v_low"),
            close=bindparam("v_close"),
            volume=bindparam("v_volume"),
            source=source,
        )
    )
    params = [
        {"key_time": int(rec["open_time"]), **{f"v_{n}": float(rec[n]) for n in OHLCV}}
        for rec in changed.to_dict("records")
    ]
    conn.execute(statement, params)
    return len(params)


def store_candles(
    engine: Engine,
    symbol: str,
    interval: str,
    frame: pd.DataFrame,
    *,
    source: str,
    now: int | None = None,
    overwrite: Overwrite = "never",
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> StoreReport:
    """Validate and write a candle frame in one transaction; report what happened.

    Insane rows are left out and reported (callers that must be all-or-nothing check
    `rejected` first, as `tools.importers` does). Stored candles with different values are
    reported as conflicts and replaced as `overwrite` says."""
    report = validate_candles(frame, interval, now=now)
    with engine.begin() as conn:
        _check_kind(conn, symbol, interval, source)
        changed, examples = _conflicts(conn, symbol, interval, report.valid)
        new = insert_candles(
            conn,
            symbol,
            interval,
            report.valid,
            source=source,
            batch_size=batch_size,
            on_batch=on_batch,
        )
        replaced = _replace(conn, symbol, interval, changed, source, overwrite)
    return StoreReport(
        symbol=symbol,
        interval=interval,
        rows_in=len(frame),
        rows_new=new,
        rejected=report.rejected,
        rejected_examples=report.examples,
        duplicates=report.duplicates,
        forming_dropped=report.forming_dropped,
        gaps=find_gaps(report.valid["open_time"].to_numpy(), interval),
        conflicts=len(changed),
        conflict_examples=examples,
        replaced=replaced,
    )


def read_candles(
    engine: Engine,
    symbol: str,
    interval: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Stored candles with open_time in [start_ms, end_ms), oldest first; with `limit`, the
    most recent `limit` of them."""
    table = CANDLE_TABLE
    query = select(
        table.c.open_time, table.c.open, table.c.high, table.c.low, table.c.close, table.c.volume
    ).where(table.c.symbol == symbol, table.c.interval == interval)
    if start_ms is not None:
        query = query.where(table.c.open_time >= start_ms)
    if end_ms is not None:
        query = query.where(table.c.open_time < end_ms)
    if limit is not None:
        query = query.order_by(table.c.open_time.desc()).limit(limit)
    else:
        query = query.order_by(table.c.open_time)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return empty_frame()
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    frame = frame.astype({"open_time": "int64", **dict.fromkeys(OHLCV, "float64")})
    return frame.sort_values("open_time").reset_index(drop=True)


def stored_sources(
    engine: Engine, symbol: str, interval: str, start_ms: int, end_ms: int
) -> set[str]:
    """The distinct `source` labels of the stored rows with open_time in [start_ms, end_ms]."""
    query = (
        select(Candle.source)
        .where(
            Candle.symbol == symbol,
            Candle.interval == interval,
            Candle.open_time >= start_ms,
            Candle.open_time <= end_ms,
        )
        .distinct()
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars().all())


def stored_open_times(engine: Engine, symbol: str, interval: str) -> np.ndarray:
    query = (
        select(Candle.open_time)
        .where(Candle.symbol == symbol, Candle.interval == interval)
        .order_by(Candle.open_time)
    )
    with engine.connect() as conn:
        return np.asarray(conn.execute(query).scalars().all(), dtype="int64")


def store_gaps(engine: Engine, symbol: str, interval: str) -> list[Gap]:
    return find_gaps(stored_open_times(engine, symbol, interval), interval)


def list_series(engine: Engine, symbol: str | None = None) -> list[StoredSeries]:
    """One line per (symbol, interval) held in the store (only `symbol`'s when given)."""
    grouped = (
        select(
            Candle.symbol,
            Candle.interval,
            func.count(),
            func.min(Candle.open_time),
            func.max(Candle.open_time),
        )
        .group_by(Candle.symbol, Candle.interval)
        .order_by(Candle.symbol, Candle.interval)
    )
    sources_query = select(Candle.symbol, Candle.interval, Candle.source).distinct()
    if symbol is not None:
        grouped = grouped.where(Candle.symbol == symbol)
        sources_query = sources_query.where(Candle.symbol == symbol)
    with engine.connect() as conn:
        sources: dict[tuple[str, str], set[str]] = {}
        for sym, ivl, src in conn.execute(sources_query):
            sources.setdefault((sym, ivl), set()).add(src)
        return [
            StoredSeries(
                symbol=sym,
                interval=ivl,
                rows=int(count),
                first=ms_to_datetime(int(first)),
                last=ms_to_datetime(int(last)),
                sources=sorted(sources.get((sym, ivl), set())),
            )
            for sym, ivl, count, first, last in conn.execute(grouped)
        ]


class SqlCandleStore:
    """`tools.candle_store.CandleStore` over the `candles` table of `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        return read_candles(
            self.engine, symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit
        )

    def sources(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> set[str]:
        return stored_sources(self.engine, symbol, interval, start_ms, end_ms)

    def write(
        self,
        symbol: str,
        interval: str,
        frame: pd.DataFrame,
        *,
        source: str,
        now: int | None = None,
        overwrite: Overwrite = "never",
    ) -> StoreReport:
        return store_candles(
            self.engine, symbol, interval, frame, source=source, now=now, overwrite=overwrite
        )

    def series(self, symbol: str | None = None) -> list[StoredSeries]:
        return list_series(self.engine, symbol)
