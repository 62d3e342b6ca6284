"""`cryptofirm data import-headlines`: a bad row names itself and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from persistence.db import init_db
from persistence.models import HeadlineRow

HEADER = "published_at,title,source,currencies,available_at_conservative\n"
GOOD = "2023-01-01T08:00:00Z,Bitcoin up,X,BTC,2023-01-02T08:00:00Z\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def stored(url: str) -> int:
    with init_db(url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(HeadlineRow)).scalar_one())


def test_bad_row_exits_2_naming_it_and_writes_nothing(env: str, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER + GOOD + "2023-01-02T08:00:00Z,,X,BTC,2023-01-03T08:00:00Z\n")
    result = CliRunner().invoke(app, ["data", "import-headlines", str(path)])
    assert result.exit_code == 2
    assert "line 3: title=''" in result.output
    assert stored(env) == 0
    path.write_text(HEADER + GOOD)
    result = CliRunner().invoke(app, ["data", "import-headlines", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output and stored(env) == 1


def test_demo_imports_the_shared_headlines_once(env: str, tmp_path: Path) -> None:
    from cli.headlines import DEMO_HEADLINES, ensure_demo_headlines
    from core.settings import Settings

    settings = Settings(database_url=env, sentiment_data_dir=tmp_path / "sentiment")
    assert "none at" in ensure_demo_headlines(settings)[0]
    path = tmp_path / "sentiment" / DEMO_HEADLINES
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + GOOD)
    assert "1 new" in ensure_demo_headlines(settings)[0]
    assert "0 new, 1 already stored" in ensure_demo_headlines(settings)[0]
    assert stored(env) == 1
