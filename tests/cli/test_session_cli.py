"""`cryptofirm session …` through Typer's CliRunner on a temporary SQLite database holding the
real BTCUSDT and ETHUSDT 1h candles of 2023 (`../shared/data/real`), rules engine:

- bad options exit 2 with one `error: --option: …` line before anything is written;
- `start` runs a replay in the foreground until `--until` (progress on stderr, the id on
  stdout), `show --json` gives status, bars processed, trades, equity and the per-limit
  maxima; `--detach` leaves a pending session for the workers; pause/resume/stop steer it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings

runner = CliRunner()
REPLAY = ["--symbols", "BTCUSDT,ETHUSDT", "--replay-from", "2023-06-01", "--rules"]


@pytest.fixture
def real_database(
    real_pairs_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    path = tmp_path / "cli.db"
    shutil.copyfile(real_pairs_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LLM_PROVIDER", "rules")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _invoke(*args: str) -> Any:
    return runner.invoke(app, ["session", *args])


def _sessions() -> list[dict[str, Any]]:
    listed = _invoke("list", "--json")
    assert listed.exit_code == 0, listed.output
    sessions: list[dict[str, Any]] = json.loads(listed.stdout)
    return sessions


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", ""], "--symbols: give at least one symbol"),
        (["--symbols", "BTC"], "--symbols:"),
        (["--symbols", "BTCUSDT,BTCUSDT"], "--symbols: each symbol once"),
        (["--symbols", "BTCUSDT", "--interval", "7m"], "--interval:"),
        (["--symbols", "BTCUSDT", "--replay-from", "yesterday"], "--replay-from:"),
        (["--symbols", "BTCUSDT", "--replay-from", "2008-01-01"], "--replay-from:"),
        (["--symbols", "BTCUSDT", "--speed", "fast"], "--speed: 'fast' is neither max"),
        (["--symbols", "BTCUSDT", "--speed", "3600"], "--speed: only a replay"),
        (["--symbols", "BTCUSDT", "--replay-from", "2023-06-01", "--speed", "0"], "--speed:"),
        (
            ["--symbols", "BTCUSDT", "--replay-from", "2023-06-01", "--until", "2023-05-01"],
            "--until: must be after replay_from",
        ),
        (["--symbols", "BTCUSDT", "--until", "someday"], "--until:"),
        (["--symbols", "BTCUSDT", "--approval", "maybe"], "--approval: must be auto or require"),
        (["--symbols", "BTCUSDT", "--portfolio", "ghost"], "--portfolio: no portfolio named"),
        (["--symbols", "BTCUSDT", "--cash", "-5"], "--cash:"),
        (["--symbols", "BTCUSDT", "--every", "0"], "--every:"),
        (
            ["--symbols", "SOLUSDT", "--replay-from", "2023-06-01"],
            "--replay-from: stored SOLUSDT 1h candles do not cover",
        ),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    real_database: str, args: list[str], message: str
) -> None:
    result = _invoke("start", "--rules", *args)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.stderr
    assert "Traceback" not in result.output
    assert _sessions() == []


def test_detach_then_steer(real_database: str) -> None:
    result = _invoke("start", *REPLAY, "--detach", "--approval", "require", "--name", "night")
    assert result.exit_code == 0, result.output
    session_id = result.stdout.strip()
    assert "queued (pending)" in result.stderr and "night" in result.stderr
    [listed] = _sessions()
    assert listed["id"] == session_id and listed["status"] == "pending"
    assert listed["approval"] == "require" and listed["symbols"] == ["BTCUSDT", "ETHUSDT"]
    shown = _invoke("show", session_id, "--json")
    assert shown.exit_code == 0
    view = json.loads(shown.stdout)
    assert view["bars_processed"] == 0 and view["trades"] == 0 and "maxima" in view
    no_bars = _invoke("parity", session_id)
    assert no_bars.exit_code == 2 and "error: ID: session" in no_bars.stderr
    assert _invoke("pause", session_id).stdout.strip() == f"session {session_id}: paused"
    again = _invoke("pause", session_id)
    assert again.exit_code == 1 and "paused; cannot paused" in again.stderr
    assert _invoke("stop", session_id).stdout.strip() == f"session {session_id}: stopped"
    assert _invoke("resume", session_id).exit_code == 1  # stopped is final


def test_unknown_ids_exit_2(real_database: str) -> None:
    for command in ("show", "pause", "resume", "stop", "parity"):
        result = _invoke(command, "no-such-session")
        assert result.exit_code == 2, (command, result.output)
        assert "error: ID: no trading session no-such-session" in result.stderr
    bad = _invoke("show", "a b")
    assert bad.exit_code == 2 and "is not a session id" in bad.stderr


def test_start_runs_a_replay_in_the_foreground_until(real_database: str) -> None:
    result = _invoke("start", *REPLAY, "--until", "2023-06-04", "--name", "fg")
    assert result.exit_code == 0, result.output
    session_id = result.stdout.strip().splitlines()[-1]
    assert f"session {session_id} (fg): BTCUSDT,ETHUSDT 1h, replay from 2023-06-01 00:00" in (
        result.stderr
    )
    view = json.loads(_invoke("show", session_id, "--json").stdout)
    assert view["status"] == "completed" and view["name"] == "fg"
    # 3 days, 2 symbols; no decision at the last bar (no next open to fill at: as a backtest)
    assert view["bars_processed"] == 72 and view["decisions"] == 2 * 71
    assert view["equity"] is not None and view["starting_cash"] == 10_000
    for limit in ("max_position_pct", "max_total_exposure_pct", "min_cash_pct"):
        assert limit in view["maxima"]
    assert view["maxima"]["max_total_exposure_pct"] <= view["limits"]["max_total_exposure_pct"]
    human = _invoke("show", session_id)
    assert (
        human.exit_code == 0 and "completed" in human.stdout and "total exposure" in (human.stdout)
    )
    [listed] = _sessions()
    assert listed["id"] == session_id and listed["trades"] == view["trades"]


def test_parity_of_a_one_symbol_replay(real_database: str) -> None:
    started = _invoke(
        "start",
        "--symbols",
        "BTCUSDT",
        "--replay-from",
        "2023-06-01",
        "--until",
        "2023-06-08",
        "--rules",
    )
    assert started.exit_code == 0, started.output
    session_id = started.stdout.strip().splitlines()[-1]
    result = _invoke("parity", session_id, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert report["identical"] is True and report["differences"] == []
    assert report["bars"] == 168 and report["decisions_compared"] == 167
    assert report["session_final_equity"] == report["backtest_final_equity"]
