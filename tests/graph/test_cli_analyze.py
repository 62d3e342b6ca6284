"""`cryptofirm analyze` offline: all six agents and the decision, synthetic data only when
asked and labelled, an empty store an error (never synthetic), 4h built from stored 1h;
bad input → one line and exit code 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings


@pytest.fixture
def offline_env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LLM_PROVIDER", "rules")
    monkeypatch.setenv("DATA_SOURCE", "store")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_analyze_streams_all_agents_and_decision(offline_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATA_SOURCE", "synthetic")  # asked for: synthetic, and labelled so
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--interval", "1h"])
    assert result.exit_code == 0, result.output
    out = result.output
    for agent in ("technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"):
        assert f"{agent:>12}]" in out
    assert "decision" in out and "completed" in out
    assert "SYNTHETIC" in out
    assert "rules" in out


def test_analyze_on_an_empty_store_fails_naming_the_missing_data(offline_env) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--interval", "1h"])
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "no stored BTCUSDT 1h candles" in out and "cryptofirm data fetch BTCUSDT" in out
    assert "SYNTHETIC" not in out and "completed" not in out


def test_analyze_4h_with_only_1h_stored_uses_store_resampled(offline_env) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    from persistence.candles import store_candles
    from persistence.db import init_db

    hour = 3_600_000
    times = 1_704_067_200_000 + hour * np.arange(1_200, dtype="int64")
    close = 40_000 + 50 * np.sin(np.arange(1_200) / 9)
    frame = pd.DataFrame(
        {
            "open_time": times,
            "open": close,
            "high": close + 30,
            "low": close - 30,
            "close": close,
            "volume": 2.0,
        }
    )
    store_candles(init_db(get_settings().database_url), "BTCUSDT", "1h", frame, source="import")
    result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--interval", "4h"])
    assert result.exit_code == 0, result.output
    assert "source: store-resampled" in result.output
    assert "SYNTHETIC" not in result.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["analyze", "BTCUSDT", "--interval", "7h"], "--interval"),
        (["analyze", "BTCXYZ"], "SYMBOL"),
        (["analyze", "BTCUSDT", "--portfolio", "nope"], "--portfolio"),
        (["runs", "approve", "no-such-run"], "RUN_ID"),
    ],
)
def test_bad_input_is_one_line_exit_2(offline_env, args, field) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and field in lines[0]


def test_synthetic_flag_trades_only_the_synthetic_default_portfolio(offline_env) -> None:  # type: ignore[no-untyped-def]
    from persistence.db import init_db
    from persistence.portfolios import list_portfolios

    result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--synthetic", "--execute"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    [portfolio] = list_portfolios(init_db(get_settings().database_url))
    assert (portfolio.kind, portfolio.name) == ("synthetic", "default-synthetic")
