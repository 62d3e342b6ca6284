"""The Binance klines client against a local HTTP server: paging, retries, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from tools.binance import KLINES_PAGE_LIMIT, BinanceError, BinanceKlinesClient

HOUR = 3_600_000
START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)


def make_client(base_url: str, delays: list[float], **overrides: float) -> BinanceKlinesClient:
    options = {"timeout_s": 2.0, "max_retries": 3, "backoff_base_s": 0.01} | overrides
    return BinanceKlinesClient(base_url=base_url, sleep=delays.append, **options)  # type: ignore[arg-type]


def test_constructor_makes_no_request(fake_binance) -> None:
    BinanceKlinesClient(base_url=fake_binance.base_url)
    assert fake_binance.requests == []


def test_fetch_pages_past_the_1000_limit(fake_binance) -> None:
    delays: list[float] = []
    client = make_client(fake_binance.base_url, delays)
    pages: list[int] = []
    frame = client.fetch_klines(
        "BTCUSDT", "1h", START, START + 2_500 * HOUR, on_page=lambda n, _t: pages.append(n)
    )
    assert len(frame) == 2_500
    assert pages == [KLINES_PAGE_LIMIT, KLINES_PAGE_LIMIT, 500]
    assert frame["open_time"].diff().dropna().eq(HOUR).all()
    assert frame["open_time"].iloc[0] == START
    assert frame["open_time"].iloc[-1] == START + 2_499 * HOUR
    calls = fake_binance.kline_requests
    assert [int(c["startTime"]) for c in calls] == [
        START,
        START + 1_000 * HOUR,
        START + 2_000 * HOUR,
    ]
    assert all(c["limit"] == "1000" and c["symbol"] == "BTCUSDT" for c in calls)
    assert frame.dtypes["close"] == "float64"
    assert frame["close"].iloc[0] == pytest.approx(float(30_000 + (START // HOUR) % 1_000 + 3))
    assert delays == []


def test_stops_when_the_exchange_has_no_more_candles(fake_binance) -> None:
    fake_binance.listed_until_ms = START + 1_000 * HOUR  # exactly one full page exists
    frame = make_client(fake_binance.base_url, []).fetch_klines(
        "BTCUSDT", "1h", START, START + 5_000 * HOUR
    )
    assert len(frame) == 1_000
    assert len(fake_binance.kline_requests) == 2  # the second, empty page ends the loop


def test_429_honours_retry_after(fake_binance) -> None:
    fake_binance.faults = [429]
    fake_binance.retry_after = "3"
    delays: list[float] = []
    frame = make_client(fake_binance.base_url, delays).fetch_klines(
        "BTCUSDT", "1h", START, START + 10 * HOUR
    )
    assert len(frame) == 10
    assert delays == [3.0]
    assert len(fake_binance.kline_requests) == 2


def test_500_backs_off_exponentially(fake_binance) -> None:
    fake_binance.faults = [500, 503]
    delays: list[float] = []
    frame = make_client(fake_binance.base_url, delays, backoff_base_s=0.01).fetch_klines(
        "BTCUSDT", "1h", START, START + 10 * HOUR
    )
    assert len(frame) == 10
    assert len(delays) == 2
    assert 0.01 <= delays[0] <= 0.011
    assert 0.02 <= delays[1] <= 0.022


def test_timeout_is_retried(fake_binance) -> None:
    fake_binance.faults = ["timeout"]
    fake_binance.hang_s = 1.0
    delays: list[float] = []
    frame = make_client(fake_binance.base_url, delays, timeout_s=0.2).fetch_klines(
        "BTCUSDT", "1h", START, START + 10 * HOUR
    )
    assert len(frame) == 10
    assert len(delays) == 1
    assert len(fake_binance.kline_requests) == 2


def test_gives_up_after_max_retries(fake_binance) -> None:
    fake_binance.faults = [500] * 10
    delays: list[float] = []
    with pytest.raises(BinanceError, match="after 3 attempts: HTTP 500"):
        make_client(fake_binance.base_url, delays, max_retries=2).fetch_klines(
            "BTCUSDT", "1h", START, START + 10 * HOUR
        )
    assert len(fake_binance.kline_requests) == 3
    assert len(delays) == 2


def test_client_errors_are_not_retried(fake_binance) -> None:
    delays: list[float] = []
    with pytest.raises(BinanceError, match=r"HTTP 400 code=-1121 Invalid symbol"):
        make_client(fake_binance.base_url, delays).fetch_klines(
            "NOPEUSDT", "1h", START, START + 10 * HOUR
        )
    assert len(fake_binance.kline_requests) == 1
    assert delays == []


def test_base_url_comes_from_settings(fake_binance) -> None:
    settings = Settings(binance_base_url=fake_binance.base_url, binance_max_retries=0)
    client = BinanceKlinesClient.from_settings(settings)
    assert client.max_retries == 0
    frame = client.fetch_klines("ETHUSDT", "4h", START, START + 12 * 4 * HOUR)
    assert len(frame) == 12
    assert fake_binance.kline_requests[0]["interval"] == "4h"


@pytest.fixture
def cli_env(fake_binance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BINANCE_BASE_URL", fake_binance.base_url)
    monkeypatch.setenv("BINANCE_MAX_RETRIES", "1")
    get_settings.cache_clear()
    yield fake_binance
    get_settings.cache_clear()


def test_cli_fetch_stores_once(cli_env) -> None:
    from cli.main import app

    runner = CliRunner()
    args = ["data", "fetch", "BTCUSDT", "--interval", "1h", "--from", "2024-01-01"]
    first = runner.invoke(app, [*args, "--to", "2024-02-15"])
    assert first.exit_code == 0, first.output
    assert "1080 new" in first.output
    second = runner.invoke(app, [*args, "--to", "2024-02-15"])
    assert second.exit_code == 0, second.output
    assert "0 new" in second.output
    listed = runner.invoke(app, ["data", "list"])
    assert "1080" in listed.output and "binance" in listed.output


def test_cli_fetch_reports_unreachable_binance(cli_env) -> None:
    from cli.main import app

    cli_env.faults = [500, 500, 500]
    result = CliRunner().invoke(
        app, ["data", "fetch", "BTCUSDT", "--from", "2024-01-01", "--to", "2024-01-02"]
    )
    assert result.exit_code == 1
    assert "failed after 2 attempts" in result.output
