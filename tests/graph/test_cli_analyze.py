"""`cryptofirm analyze` offline: all six agents and the decision, synthetic data labelled;
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


def test_analyze_streams_all_agents_and_decision(offline_env) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["analyze", "BTCUSDT", "--interval", "1h"])
    assert result.exit_code == 0, result.output
    out = result.output
    for agent in ("technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"):
        assert f"{agent:>12}]" in out
    assert "decision" in out and "completed" in out
    assert "SYNTHETIC" in out  # empty store → synthetic candles, labelled
    assert "rules" in out


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
