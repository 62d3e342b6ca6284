"""`cryptofirm data …` through Typer's CliRunner on a temporary database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from persistence.db import make_engine
from persistence.models import Candle

runner = CliRunner()


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@pytest.fixture
def sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def stored_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Candle)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.realdata
def test_import_then_gaps_then_reimport(database: str, real_btc_1h: Path) -> None:
    first = runner.invoke(app, ["data", "import", str(real_btc_1h)])
    assert first.exit_code == 0, first.output
    assert "58419 new" in first.output
    gaps = runner.invoke(app, ["data", "gaps", "BTCUSDT", "1h"])
    assert gaps.exit_code == 0, gaps.output
    assert "28 gaps, 128 missing candles" in gaps.output
    assert "2018-02-08 01:00" in gaps.output
    second = runner.invoke(app, ["data", "import", str(real_btc_1h)])
    assert second.exit_code == 0
    assert "0 new" in second.output
    assert stored_rows(database) == 58_419
    listed = runner.invoke(app, ["data", "list"])
    assert "BTCUSDT" in listed.output and "58419" in listed.output and "import" in listed.output


def test_list_and_gaps_on_an_empty_store(sqlite_database: str) -> None:
    listed = runner.invoke(app, ["data", "list"])
    assert listed.exit_code == 0 and "empty" in listed.output
    gaps = runner.invoke(app, ["data", "gaps", "ETHUSDT", "4h"])
    assert gaps.exit_code == 0 and "0 gaps" in gaps.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "gaps", "BTCUSDT", "7x"], "unknown interval '7x'"),
        (["data", "gaps", "BTC!", "1h"], "is not a Binance spot symbol"),
        (
            ["data", "fetch", "BTCUSDT", "--interval", "9h", "--from", "2024-01-01"],
            "unknown interval",
        ),
        (
            ["data", "fetch", "BTCUSDT", "--from", "2024-02-01", "--to", "2024-01-01"],
            "is not before",
        ),
        (["data", "fetch", "BTCUSDT", "--from", "yesterday"], "--from: 'yesterday' is not a date"),
        (["data", "fetch", "BTCUSDT"], "--from is required"),
        (["data", "import", "/nonexistent/BTC_USDT-1h.feather"], "no such file"),
        (["data", "import", "{tmp}/prices.csv"], "cannot infer the symbol"),
        (["data", "import", "{tmp}/BTC_USDT-1h.json"], "not valid JSON"),
        (
            ["data", "import", "{tmp}/BTC_USDT-1h.json", "--symbol", "B T C"],
            "not a Binance spot symbol",
        ),
        (["data", "import", "{tmp}/BTC_USDT-1h.json", "--interval", "2d"], "unknown interval '2d'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    sqlite_database: str, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "prices.csv").write_text("datetime,open,high,low,close,volume\n")
    (tmp_path / "BTC_USDT-1h.json").write_text("[[1704067200000, 1, 2")
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_malformed_import_writes_nothing(sqlite_database: str, tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1h.json"
    good = [[1_704_067_200_000 + i * 3_600_000, 1.0, 2.0, 0.5, 1.5, 10.0] for i in range(50)]
    rows = [*map(str, good), '[1704247200000, "x", 2, 1, 1, 1]']
    path.write_text("[" + ",".join(r.replace("'", '"') for r in rows) + "]")
    result = runner.invoke(app, ["data", "import", str(path)])
    assert result.exit_code == 2
    assert "row 51, field 'open', value 'x'" in result.output
    assert stored_rows(sqlite_database) == 0


def test_bad_row_exits_2_and_skip_bad_imports_the_rest(
    sqlite_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "BTC_USDT-1h.json"
    rows = [[1_704_067_200_000 + i * 3_600_000, 1.0, 2.0, 0.5, 1.5, 10.0] for i in range(50)]
    rows[20][2] = 1.2  # high below the close: row 21
    path.write_text(str(rows))
    refused = runner.invoke(app, ["data", "import", str(path)])
    assert refused.exit_code == 2
    named = "row 21 (2024-01-01 20:00), field 'high', value '1.2': high < max(open, close)"
    assert named in refused.output
    assert stored_rows(sqlite_database) == 0
    skipped = runner.invoke(app, ["data", "import", str(path), "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert "49 new" in skipped.output and "1 rejected" in skipped.output
    assert stored_rows(sqlite_database) == 49
    rows[5][4] = 1.25  # a different close for a stored candle
    path.write_text(str(rows))
    conflict = runner.invoke(app, ["data", "import", str(path), "--skip-bad"])
    assert "1 stored candles differ from this data: 0 replaced, 1 kept" in conflict.output
    assert "--replace" in conflict.output
    replaced = runner.invoke(app, ["data", "import", str(path), "--skip-bad", "--replace"])
    assert "1 replaced, 0 kept" in replaced.output
