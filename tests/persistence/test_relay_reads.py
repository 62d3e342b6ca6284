"""The SSE relay's one-statement read, on both backends and through both readers: the run's
kind and status, its events after a seq with their stored JSON text, and "no such run"."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, update

from api.runs_store import create_run
from graph.checkpoint import postgres_conninfo, uses_postgres
from persistence.events import StoredEvent, append_events
from persistence.models import Run
from persistence.relay_reads import PostgresRelayReader, RelayRead, ThreadedRelayReader

BODIES = [
    {"node": "technical", "text": "line one\nline two", "price": 42123.5},
    {"note": 'ünïcode and "quotes"', "nested": {"k": [1, 2, None]}},
    {"status": "completed"},
]


def _seed(engine: Engine) -> None:
    for run_id, kind in (("a", "analysis"), ("b", "backtest"), ("empty", "analysis")):
        create_run(
            engine,
            run_id=run_id,
            kind=kind,
            symbol="BTCUSDT",
            interval="1h",
            portfolio_id=None,
            params={},
        )
    types = ["token", "warning", "run_finished"]
    append_events(
        engine,
        [
            StoredEvent(run_id="a", seq=i + 1, type=types[i], data=body)
            for i, body in enumerate(BODIES)
        ],
        run_update={"status": "completed"},
    )


async def _reads(engine: Engine) -> list[RelayRead]:
    readers = [ThreadedRelayReader(engine)]
    url = str(engine.url.render_as_string(hide_password=False))
    if uses_postgres(url):
        async with PostgresRelayReader(postgres_conninfo(url), max_size=2) as pg:
            return [await r.read(run, after, n) for r in (*readers, pg) for run, after, n in CASES]
    return [await r.read(run, after, n) for r in readers for run, after, n in CASES]


CASES = [("a", 0, 100), ("a", 1, 100), ("a", 3, 100), ("b", 0, 100), ("empty", 0, 100)]
CASES += [("missing", 0, 100), ("a", 0, 2), ("a", 2, 1)]


BACKENDS = ["sqlite_engine", pytest.param("pg_engine", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_relay_read_on_each_backend_and_reader(
    backend: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(backend)
    _seed(engine)
    reads = await _reads(engine)
    readers = len(reads) // len(CASES)
    assert readers == (2 if backend == "pg_engine" else 1)
    for k in range(readers):  # every reader answers the same
        mine = reads[k * len(CASES) : (k + 1) * len(CASES)]
        full, after_one, after_all, other, empty, missing, first_two, third = mine
        assert (full.kind, full.status) == ("analysis", "completed")
        assert [(seq, type_) for seq, type_, _ in full.events] == [
            (1, "token"),
            (2, "warning"),
            (3, "run_finished"),
        ]
        assert [json.loads(text) for _, _, text in full.events] == BODIES
        assert all("\n" not in text for _, _, text in full.events)  # one SSE data line each
        assert [seq for seq, _, _ in after_one.events] == [2, 3]
        assert after_all == RelayRead(kind="analysis", status="completed", events=[])
        assert other == RelayRead(kind="backtest", status="pending", events=[])
        assert empty == RelayRead(kind="analysis", status="pending", events=[])
        assert missing == RelayRead(kind=None, status=None, events=[])
        assert first_two.events == full.events[:2]  # pages: at most `limit` events each
        assert third.events == full.events[2:]


async def test_the_status_is_read_with_the_events(sqlite_engine: Engine) -> None:
    """A status change shows in the next read (the relay decides "finished" from it)."""
    _seed(sqlite_engine)
    reader = ThreadedRelayReader(sqlite_engine)
    assert (await reader.read("a", 3, 10)).status == "completed"
    with sqlite_engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == "a").values(status="running"))
    assert (await reader.read("a", 3, 10)).status == "running"


@pytest.mark.postgres
@pytest.mark.parametrize("max_batch", [256, 3])
async def test_concurrent_reads_share_one_statement(
    pg_engine: Engine, max_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of reads (attaches, woken tails) is one statement per `MAX_BATCH` reads, and
    each read answers exactly what it answers alone — same run twice, missing run, pages."""
    import asyncio

    from persistence import relay_reads

    monkeypatch.setattr(relay_reads, "MAX_BATCH", max_batch)
    _seed(pg_engine)
    alone = [await ThreadedRelayReader(pg_engine).read(*case) for case in CASES]
    url = str(pg_engine.url.render_as_string(hide_password=False))
    async with PostgresRelayReader(postgres_conninfo(url), max_size=2) as pg:
        together = await asyncio.gather(*(pg.read(*case) for case in CASES))
        assert pg.statements == -(-len(CASES) // max_batch)  # 1, or ceil(8 / 3) = 3
    assert together == alone
