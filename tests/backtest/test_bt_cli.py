"""`cryptofirm backtest`: bad input → one line on stderr and exit code 2; a short offline run
exports trades.csv, equity.csv and metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("DATA_SOURCE", "synthetic")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--from", "2023-06-30", "--to", "2023-01-01"], "start"),
        (["--interval", "7h", "--from", "2023-01-01", "--to", "2023-01-05"], "interval"),
        (["--from", "2023-13-01", "--to", "2023-01-05"], "from"),
        (["--from", "2999-01-01", "--to", "2999-02-01"], "future"),
        (["--every", "0", "--from", "2023-01-01", "--to", "2023-01-05"], "every"),
        (["--from", "0001-01-01", "--to", "9999-12-31"], "--from"),
        (["--from", "2020-01-01", "--to", "9999-12-31"], "--to"),
        (["--interval", "1m", "--from", "2009-01-03", "--to", "2024-01-01"], "--to: range"),
        (["--max-cost", "1e30", "--from", "2023-01-01", "--to", "2023-01-05"], "--max-cost"),
        (["--from", "2023-01-01", "--to", "2023-01-05", "--export", "."], "--export"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli_env: Path, args: list[str], needle: str) -> None:
    result = CliRunner().invoke(app, ["backtest", "BTCUSDT", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]


def test_export_onto_a_file_fails_before_the_run(cli_env: Path) -> None:
    taken = cli_env / "taken.csv"
    taken.write_text("mine")
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "BTCUSDT",
            "--from",
            "2023-01-01",
            "--to",
            "2023-01-05",
            "--export",
            str(taken),
        ],
    )
    assert result.exit_code == 2 and "--export" in result.stderr
    assert taken.read_text() == "mine" and not (cli_env / "cli.db").exists()


def test_short_run_exports(cli_env: Path) -> None:
    out = cli_env / "export"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "BTCUSDT",
            "--from",
            "2023-03-01",
            "--to",
            "2023-03-02",
            "--every",
            "6",
            "--export",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "buy_and_hold" in result.stdout and "sma_cross" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_source"] == "synthetic" and not metrics["partial"]
    equity = (out / "equity.csv").read_text().splitlines()
    assert equity[0] == "time,equity" and len(equity) == 1 + 48
    assert (out / "trades.csv").read_text().startswith("symbol,entry_time")


@pytest.fixture
def real_store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_btc_1h: Path) -> Path:
    """The real BTC 1h file (to 2024-04-21 14:00) imported into a store-mode database."""
    from persistence.candles import SqlCandleStore
    from persistence.db import init_db
    from tools.importers import import_file

    url = f"sqlite:///{tmp_path / 'real.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_SOURCE", "store")
    monkeypatch.setenv("LLM_PROVIDER", "rules")
    get_settings.cache_clear()
    import_file(SqlCandleStore(init_db(url)), real_btc_1h)
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.realdata
def test_issue_range_past_the_real_store_exits_2_naming_the_missing_range(
    real_store_env: Path,
) -> None:
    args = ["backtest", "BTCUSDT", "--interval", "4h", "--from", "2024-02-05", "--to", "2024-09-06"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    error = " ".join(result.stderr.split())
    assert error.startswith("error: range: real BTCUSDT 4h data (store-resampled from 1h)")
    assert "missing 2024-04-21 12:00 → 2024-09-06 20:00" in error
    assert "--clip" in error and "cryptofirm data fetch BTCUSDT --interval 1h" in error


@pytest.mark.realdata
def test_issue_range_with_clip_runs_on_real_data_only_and_says_so(real_store_env: Path) -> None:
    out = real_store_env / "export"
    args = [
        "backtest",
        "BTCUSDT",
        "--interval",
        "4h",
        "--from",
        "2024-03-01",
        "--to",
        "2024-09-06",
        "--every",
        "6",
        "--clip",
        "--export",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    stderr = " ".join(result.stderr.split())
    assert "data: store-resampled" in stderr and "note: clipped to real data" in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_source"] == "store-resampled"
    assert any("clipped to real data" in w for w in metrics["warnings"])
    equity = (out / "equity.csv").read_text().splitlines()
    assert equity[-1].startswith("2024-04-21")  # nothing after the last real bar
