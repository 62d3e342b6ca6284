"""Replaying the desk at a past bar (`as_of`) and warning loudly about stale live data.

The store holds 600 hourly candles ending 2024-02-29 (generated, stored as `import`, so the
store link serves them as real history)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, get_settings
from graph.events import AgentOutput, Decision, ErrorEvent, RunFinished, RunStarted
from graph.runner import run_analysis
from persistence.candles import store_candles
from persistence.db import init_db
from tools.candle_frame import datetime_to_ms
from tools.synthetic import generate_candles

FIRST_BAR = datetime(2024, 2, 5, 0, tzinfo=UTC)
BARS = 600  # last bar opens 2024-02-29 23:00 (leap year)
LAST_BAR = FIRST_BAR + timedelta(hours=BARS - 1)
AS_OF = datetime(2024, 2, 25, 12, 30, tzinfo=UTC)  # inside the 12:00 bar


@pytest.fixture
def store(tmp_path) -> tuple[Engine, Settings]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    engine = init_db(url)
    frame = generate_candles("BTCUSDT", "1h", datetime_to_ms(FIRST_BAR), BARS, seed=7)
    store_candles(engine, "BTCUSDT", "1h", frame, source="import")
    settings = Settings(database_url=url, llm_provider="rules", data_source="store")
    return engine, settings


def _run(engine: Engine, settings: Settings, **kw: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [
            e async for e in run_analysis("BTCUSDT", "1h", engine=engine, settings=settings, **kw)
        ]

    return asyncio.run(collect())


def _stored_as_of(engine: Engine, run_id: str) -> datetime:
    """The replay time recorded on the run row (a crash-resume replays the same bar)."""
    from persistence.db import session_scope
    from persistence.models import Run

    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        return datetime.fromisoformat(run.params["as_of"])


def test_replay_decides_at_the_as_of_bar_without_stale_warning(store) -> None:  # type: ignore[no-untyped-def]
    engine, settings = store
    events = _run(engine, settings, as_of=AS_OF)
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.as_of == AS_OF
    technical = next(e for e in events if isinstance(e, AgentOutput) and e.node == "technical")
    assert technical.output["source"] == "store"
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    decision = next(e for e in events if isinstance(e, Decision))
    assert not any("stale" in r for r in decision.reasons)
    assert events[-1].status == "completed"
    assert _stored_as_of(engine, started.run_id) == AS_OF


def test_replay_snapshot_is_the_as_of_bar(store) -> None:  # type: ignore[no-untyped-def]
    from graph.context import SourceChainMarketData, decision_time

    engine, settings = store
    snap = SourceChainMarketData(settings, engine, as_of=AS_OF).snapshot("BTCUSDT", "1h")
    assert snap.as_of == datetime(2024, 2, 25, 12, tzinfo=UTC)
    assert snap.source == "store"
    assert decision_time(AS_OF, "1h") == (snap.as_of, snap.as_of + timedelta(hours=1))
    latest = SourceChainMarketData(settings, engine).snapshot("BTCUSDT", "1h")
    assert latest.as_of == LAST_BAR


def test_live_analysis_on_old_store_warns_and_does_not_trade(store) -> None:  # type: ignore[no-untyped-def]
    engine, settings = store
    events = _run(engine, settings)
    warnings = [e for e in events if isinstance(e, ErrorEvent) and e.severity == "warning"]
    assert len(warnings) == 1 and "stale data" in warnings[0].message
    assert f"{LAST_BAR:%Y-%m-%d %H:%M}" in warnings[0].message
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.size_pct == 0 or not decision.approved
    assert any("stale data" in r for r in decision.reasons)
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.as_of is None
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"


def test_replay_before_stored_history_fails_instead_of_synthetic(store) -> None:  # type: ignore[no-untyped-def]
    engine, settings = store
    events = _run(engine, settings, as_of=datetime(2023, 1, 1, tzinfo=UTC))
    errors = [e for e in events if isinstance(e, ErrorEvent) and e.severity == "error"]
    assert errors and "no stored BTCUSDT 1h candles" in errors[0].message
    assert not any(isinstance(e, AgentOutput) for e in events)
    assert events[-1].status == "failed"


def test_replay_cannot_execute(store) -> None:  # type: ignore[no-untyped-def]
    engine, settings = store
    with pytest.raises(ValueError, match="as_of"):
        _run(engine, settings, as_of=AS_OF, execute=True, portfolio_id=None)


@pytest.fixture
def cli_store(store, monkeypatch):  # type: ignore[no-untyped-def]
    _, settings = store
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LLM_PROVIDER", "rules")
    monkeypatch.setenv("DATA_SOURCE", "store")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_replay_is_labelled(cli_store) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--as-of", "2024-02-25T12:30"])
    assert result.exit_code == 0, result.output
    assert "REPLAY" in result.output and "2024-02-25 12:30" in result.output
    assert "WARNING" not in result.output


def test_cli_live_on_stale_store_prints_warning(cli_store) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["analyze", "BTCUSDT"])
    assert result.exit_code == 0, result.output
    assert "WARNING stale data" in " ".join(result.output.split())
    assert "--as-of" in result.output  # the CLI's own advice, not the web's
    assert "REPLAY" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "BTCUSDT", "--as-of", "yesterday"],
        ["analyze", "BTCUSDT", "--as-of", "2999-01-01"],
        ["analyze", "BTCUSDT", "--as-of", "2024-02-25", "--execute"],
    ],
)
def test_cli_bad_as_of_is_one_line_exit_2(cli_store, args) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--as-of" in lines[0]
