"""Acceptance: a backtest over the real 2023 BTC/ETH 1h candles, through the CLI, exports a
`decisions.csv` whose inputs were all public at each decision.

Checked independently of the providers: `fear_greed` equals the raw history's value of the
previous UTC day, `sentiment_as_of` and `tokenomics_as_of` are before the decision `time`,
and `headline_count` equals the number of the raw file's headlines for that coin that became
available in the 3 days up to the decision (capped at 8).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, get_settings

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SENTIMENT_DIR = Settings().sentiment_data_dir
FEAR_GREED = SENTIMENT_DIR / "alternative.me__fear_greed" / "fear_greed_daily.csv"
HEADLINES = SENTIMENT_DIR / "Xtra-Computing__CryptoTrade" / "headlines_btc_eth_2023.csv"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_data_dir: Path) -> Iterator[Path]:
    if not (FEAR_GREED.is_file() and HEADLINES.is_file()):
        pytest.skip(f"point-in-time sentiment data not found under {SENTIMENT_DIR}")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'pit.db'}")
    monkeypatch.setenv("LLM_PROVIDER", "rules")
    monkeypatch.setenv("DATA_SOURCE", "store")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(SENTIMENT_DIR))
    get_settings.cache_clear()
    yield real_data_dir / "daisybum__cryptoTradingBot"
    get_settings.cache_clear()


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def raw_fear_greed() -> dict[str, int]:
    with FEAR_GREED.open(newline="") as fh:
        return {row["date"]: int(row["value"]) for row in csv.DictReader(fh)}


def raw_headlines(asset: str) -> list[datetime]:
    with HEADLINES.open(newline="") as fh:
        return sorted(
            datetime.fromisoformat(row["available_at_conservative"].replace("Z", "+00:00"))
            for row in csv.DictReader(fh)
            if asset in row["currencies"].split("|")
        )


@pytest.mark.parametrize("asset", ["BTC", "ETH"])
def test_decisions_csv_inputs_were_public_at_each_decision(
    cli_env: Path, tmp_path: Path, asset: str
) -> None:
    invoke("data", "import", str(cli_env / f"{asset}_USDT-1h.feather"))
    invoke("data", "import-headlines", str(HEADLINES))
    out = tmp_path / "export"
    report = invoke(
        "backtest",
        f"{asset}USDT",
        "--interval",
        "1h",
        "--from",
        "2023-01-10",
        "--to",
        "2024-01-09",
        "--every",
        "5",
        "--export",
        str(out),
    )
    assert "decisions.csv" in report
    with (out / "decisions.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 1700  # a year of 1h bars, every 5th

    fear_greed = raw_fear_greed()
    available = raw_headlines(asset)
    with_news = 0
    for row in rows:
        time = datetime.fromisoformat(row["time"])
        assert row["price_source"] not in ("", "synthetic")
        assert row["blind"] == "false"
        sentiment_as_of = datetime.fromisoformat(row["sentiment_as_of"])
        assert sentiment_as_of < time, row
        previous_day = (time - timedelta(days=1)).date().isoformat()
        assert int(row["fear_greed"]) == fear_greed[previous_day], row
        expected_news = sum(1 for a in available if time - timedelta(days=3) < a <= time)
        assert int(row["headline_count"]) == min(expected_news, 8), row
        with_news += expected_news > 0
        if row["tokenomics_as_of"]:
            assert datetime.fromisoformat(row["tokenomics_as_of"]) <= time, row
    assert with_news > 0.9 * len(rows)  # the file covers 2023: headlines nearly every bar
    if asset == "BTC":  # BTC supply comes from the issuance schedule at every bar
        assert all(r["tokenomics_source"] == "btc-issuance-schedule" for r in rows)
    else:  # no ETH tokenomics row dated in 2023: unavailable, and the report says so
        assert all(r["tokenomics_as_of"] == "" for r in rows)
        assert "tokenomics inputs unavailable" in report
