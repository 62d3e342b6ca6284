"""Point-in-time inputs: each provider shows a decision at `at` only what was public by then."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import Settings
from tools.btc_supply import btc_supply_at, estimated_height, supply_sat
from tools.headlines import DatedHeadline, HeadlineFileError, memory_loader, read_headline_csv
from tools.sentiment import (
    FearGreedHistory,
    LiveSentimentProvider,
    OfflineSentimentProvider,
    PointInTimeSentimentProvider,
    SentimentUnavailableError,
    point_in_time_sentiment,
)
from tools.tokenomics import (
    LiveTokenomicsProvider,
    OfflineTokenomicsProvider,
    PointInTimeTokenomicsProvider,
    TokenomicsUnavailableError,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def history(tmp_path: Path, rows: dict[str, int]) -> FearGreedHistory:
    path = tmp_path / "fg.csv"
    lines = ["date,value,classification"] + [f"{d},{v},L{v}" for d, v in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return FearGreedHistory.from_csv(path)


def test_fear_greed_uses_the_value_dated_at_most_at_minus_one_day(tmp_path: Path) -> None:
    h = history(tmp_path, {"2023-03-01": 10, "2023-03-02": 20, "2023-03-03": 30})
    # 2023-03-03 13:00: the value of 03-03 is not public yet (stamped today), 03-02 is.
    assert h.at(utc(2023, 3, 3, 13)).value == 20
    # exactly midnight of 03-03: at − 1 day = 03-02 00:00 → the 03-02 value
    assert h.at(utc(2023, 3, 3, 0)).value == 20
    # one second before: the 03-01 value
    assert h.at(utc(2023, 3, 2, 23, 59, 59)).value == 10
    assert h.at(utc(2023, 3, 4, 0)).stamped_at == utc(2023, 3, 3)


def test_fear_greed_refuses_before_the_history_and_after_a_long_gap(tmp_path: Path) -> None:
    h = history(tmp_path, {"2023-03-01": 10, "2023-03-02": 20})
    with pytest.raises(SentimentUnavailableError, match="starts 2023-03-01"):
        h.at(utc(2023, 3, 1, 23))
    assert h.at(utc(2023, 3, 7)).value == 20  # 4 days old: within the documented gaps
    with pytest.raises(SentimentUnavailableError, match="ends 2023-03-02"):
        h.at(utc(2023, 3, 8))


def test_fear_greed_bad_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "fg.csv"
    path.write_text("date,value,classification\n2023-03-01,10,Fear\n2023-03-02,101,Greed\n")
    with pytest.raises(SentimentUnavailableError, match="line 3"):
        FearGreedHistory.from_csv(path)


def dated(title: str, published: datetime, currencies: list[str]) -> DatedHeadline:
    return DatedHeadline(
        published_at=published,
        available_at=published + timedelta(hours=24),
        title=title,
        source="test",
        currencies=currencies,
    )


def test_point_in_time_sentiment_never_shows_a_later_headline(tmp_path: Path) -> None:
    h = history(tmp_path, {f"2023-03-{d:02d}": d for d in range(1, 11)})
    news = [
        dated("BTC old", utc(2023, 3, 1, 8), ["BTC"]),
        dated("BTC fresh", utc(2023, 3, 5, 8), ["BTC"]),
        dated("ETH only", utc(2023, 3, 5, 8), ["ETH"]),
        dated("BTC future", utc(2023, 3, 6, 8), ["BTC"]),
    ]
    provider = PointInTimeSentimentProvider(h, memory_loader(news))
    at = utc(2023, 3, 6, 8)  # "BTC fresh" became available exactly now, "BTC future" not yet
    got = provider.get("BTCUSDT", at=at)
    assert [x.title for x in got.headlines] == ["BTC fresh"]  # "BTC old" is outside 3 days
    assert got.fear_greed == 5 and got.source == "point-in-time"
    assert got.fear_greed_as_of == utc(2023, 3, 5)
    assert got.as_of is not None and got.as_of < at
    quiet = provider.get("BTCUSDT", at=utc(2023, 3, 11))
    assert quiet.headlines == [] and "no dated BTC headlines" in (quiet.headlines_note or "")


def test_no_history_means_unavailable_naming_the_path(tmp_path: Path) -> None:
    provider = point_in_time_sentiment(Settings(sentiment_data_dir=tmp_path / "absent"), None)
    with pytest.raises(SentimentUnavailableError, match="absent"):
        provider.get("BTCUSDT", at=utc(2023, 3, 1))


def test_sample_and_live_feeds_refuse_a_past_decision() -> None:
    with pytest.raises(SentimentUnavailableError, match="sample is dated"):
        OfflineSentimentProvider().get("BTCUSDT", at=utc(2023, 6, 1))
    sample = OfflineSentimentProvider().get("BTCUSDT", at=datetime.now(UTC))
    assert sample.source == "offline-sample"
    with pytest.raises(SentimentUnavailableError, match="only knows today"):
        LiveSentimentProvider("http://127.0.0.1:9").get("BTCUSDT", at=utc(2023, 6, 1))
    with pytest.raises(TokenomicsUnavailableError, match="dated 2024-04-21"):
        OfflineTokenomicsProvider().get("ETHUSDT", 2_000.0, at=utc(2023, 6, 1))
    with pytest.raises(TokenomicsUnavailableError, match="only knows today"):
        LiveTokenomicsProvider("http://127.0.0.1:9").get("BTCUSDT", 1.0, at=utc(2023, 6, 1))


def test_btc_supply_follows_the_issuance_schedule() -> None:
    assert supply_sat(0) == 50 * 10**8
    assert supply_sat(209_999) == 210_000 * 50 * 10**8
    assert supply_sat(629_999) == 18_375_000 * 10**8  # 210k × (50 + 25 + 12.5)
    assert supply_sat(840_000) == (18_375_000 + 210_000 * 6.25 + 3.125) * 10**8
    # at the fourth halving's block time the estimate is the block itself
    assert estimated_height(utc(2024, 4, 20, 0, 9, 27)) == 840_000
    jan23 = btc_supply_at(utc(2023, 1, 1))
    assert 19_230_000 < jan23.supply_btc < 19_270_000  # published figure ≈ 19.25M
    assert jan23.subsidy_btc == 6.25 and jan23.next_halving_height == 840_000
    later = btc_supply_at(utc(2023, 1, 2))
    assert later.supply_btc - jan23.supply_btc == pytest.approx(144 * 6.25, rel=0.1)


def test_point_in_time_tokenomics_never_uses_a_later_figure() -> None:
    provider = PointInTimeTokenomicsProvider()
    at = utc(2023, 6, 1, 12)
    btc = provider.get("BTCUSDT", 27_000.0, at=at)
    assert btc.source == "btc-issuance-schedule" and btc.as_of == at
    assert btc.market_cap_usd == pytest.approx(btc.circulating_supply * 27_000.0)
    assert not any("2024" in n for n in btc.notes)  # no halving "last in April 2024"
    with pytest.raises(TokenomicsUnavailableError, match="no ETH tokenomics dated"):
        provider.get("ETHUSDT", 1_900.0, at=at)
    eth = provider.get("ETHUSDT", 3_000.0, at=utc(2024, 5, 1))
    assert eth.source == "dated-table" and eth.as_of == utc(2024, 4, 21)


def test_headline_csv_is_all_or_nothing_and_names_the_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    header = "published_at,title,source,currencies,available_at_conservative\n"
    good = "2023-01-01T08:00:00Z,Bitcoin up,X,BTC|ETH,2023-01-02T08:00:00Z\n"
    path.write_text(header + good + "2023-01-01T08:00:00Z,Bad,X,BTC,not-a-time\n")
    with pytest.raises(HeadlineFileError, match=r"line 3: available_at_conservative='not-a-time'"):
        read_headline_csv(path)
    path.write_text(header + good + "2023-01-03T08:00:00Z,Early,X,BTC,2023-01-02T08:00:00Z\n")
    with pytest.raises(HeadlineFileError, match=r"line 3.*before published_at"):
        read_headline_csv(path)
    path.write_text("published_at,title,source,currencies\n" + good)
    with pytest.raises(HeadlineFileError, match="line 1: header"):
        read_headline_csv(path)
    path.write_text(header + good)
    (row,) = read_headline_csv(path)
    assert row.currencies == ["BTC", "ETH"] and row.available_at.date() == date(2023, 1, 2)
