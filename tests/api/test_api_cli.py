"""`cryptofirm serve` / `demo`: data seeding labelled, bad input exits 2 with one line."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.serve import ensure_demo_data
from core.settings import Settings
from persistence.candles import list_series
from persistence.db import get_engine


def test_demo_data_is_synthetic_and_labelled_without_real_files(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(real_data_dir=tmp_path / "absent")
    lines = ensure_demo_data(settings)
    assert all("SYNTHETIC" in line for line in lines) and len(lines) == 2
    series = list_series(get_engine(settings.database_url))
    assert {(s.symbol, s.sources[0]) for s in series} == {
        ("BTCUSDT", "synthetic"),
        ("ETHUSDT", "synthetic"),
    }
    assert ensure_demo_data(settings) == ["market data: store already has candles"]


@pytest.mark.realdata
def test_demo_data_imports_the_real_files(
    settings_factory: Callable[..., Settings], real_data_dir: Path
) -> None:
    settings = settings_factory(real_data_dir=real_data_dir)
    lines = ensure_demo_data(settings)
    assert len(lines) == 2 and all("real Binance" in line for line in lines)
    rows = {s.symbol: s.rows for s in list_series(get_engine(settings.database_url))}
    assert rows == {"BTCUSDT": 58_419, "ETHUSDT": 8_998}


def test_serve_refuses_a_busy_port_with_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert "--port" in result.output


def test_serve_rejects_a_bad_port() -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2
