"""`cryptofirm portfolio …` end to end on a throw-away SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import portfolio as portfolio_cli
from cli.main import app
from core.settings import get_settings
from persistence.db import get_engine
from persistence.ledger import execute_order
from persistence.portfolios import get_portfolio_by_name
from tools.orders import OrderRequest

runner = CliRunner()


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    # A wide terminal, whatever the width the CLI's console took when it was imported (80
    # under pytest-xdist, whose workers fix COLUMNS before this fixture runs).
    monkeypatch.setattr(portfolio_cli.console, "width", 200)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["portfolio", *args])
    return result.exit_code, result.output


def test_create_list_show_trades_snapshot(db_file: str) -> None:
    code, out = invoke("create", "alpha", "--cash", "5000", "--max-position-pct", "25")
    assert code == 0, out
    assert "created real portfolio 'alpha'" in out
    code, out = invoke("list")
    assert code == 0 and "default" in out and "alpha" in out

    engine = get_engine(db_file)
    alpha = get_portfolio_by_name(engine, "alpha")
    assert alpha.risk.max_position_pct == 25
    order = OrderRequest(symbol="BTCUSDT", side="buy", size_pct_equity=D(20), stop_loss=D(62000))
    execute_order(
        engine, alpha.id, order, client_order_id="t", price=D(65000), at=datetime.now(UTC)
    )

    code, out = invoke("show", "--name", "alpha")
    assert code == 0, out
    assert "BTCUSDT" in out and "last fill price" in out and "62,000.00" in out
    assert "equity" in out and "return %" in out
    code, out = invoke("trades", "--name", "alpha")
    assert code == 0 and "buy" in out and "signal" in out
    code, out = invoke("snapshot", "--name", "alpha")
    assert code == 0 and out.startswith("snapshot ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "x", "--cash", "-5"), "error: --cash"),
        (("create", "x", "--cash", "ten"), "error: --cash"),
        (("create", "x", "--cash", "1e30"), "error: --cash"),
        (("create", "x", "--cash", "NaN"), "error: --cash"),
        (("create", "x\x00y"), "error: NAME"),
        (("create", "x", "--max-position-pct", "300"), "error: risk.max_position_pct"),
        (("show", "--name", "ghost"), "error: name"),
        (("trades", "--name", "ghost"), "error: name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    db_file: str, args: tuple[str, ...], message: str
) -> None:
    code, out = invoke(*args)
    assert code == 2
    assert out.strip().startswith(message) and len(out.strip().splitlines()) == 1


def test_duplicate_name(db_file: str) -> None:
    assert invoke("create", "alpha")[0] == 0
    code, out = invoke("create", "alpha")
    assert code == 2 and "already exists" in out
