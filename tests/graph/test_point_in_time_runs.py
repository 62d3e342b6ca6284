"""Analysis runs with point-in-time inputs (replays) and in blind mode."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from graph_fakes import FakeModelClient, collect, fake_settings, overrides
from sqlalchemy import Engine

from graph.events import AgentOutput, Decision, RunFinished
from graph.runner import build_context, run_analysis
from persistence.candles import store_candles
from persistence.headlines import import_headlines
from tools.candle_frame import datetime_to_ms
from tools.headlines import DatedHeadline
from tools.sentiment import PointInTimeSentimentProvider
from tools.synthetic import generate_candles
from tools.tokenomics import PointInTimeTokenomicsProvider

FIRST_BAR = datetime(2024, 2, 5, tzinfo=UTC)
AS_OF = datetime(2024, 2, 25, 12, 30, tzinfo=UTC)


def fear_greed_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "sentiment" / "alternative.me__fear_greed"
    folder.mkdir(parents=True)
    days = [FIRST_BAR.date() + timedelta(days=i) for i in range(30)]
    rows = "".join(f"{d},{20 + i},Fear\n" for i, d in enumerate(days))
    (folder / "fear_greed_daily.csv").write_text("date,value,classification\n" + rows)
    return tmp_path / "sentiment"


def test_a_replay_uses_point_in_time_providers(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = fake_settings(sentiment_data_dir=fear_greed_dir(tmp_path))
    ctx = build_context(
        settings, sqlite_engine, "r", portfolio_id=None, execute=False, as_of=AS_OF, interval="1h"
    )
    assert isinstance(ctx.sentiment, PointInTimeSentimentProvider)
    assert isinstance(ctx.tokenomics, PointInTimeTokenomicsProvider)


async def test_replay_sentiment_and_tokenomics_are_as_of_the_bar(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    frame = generate_candles("BTCUSDT", "1h", datetime_to_ms(FIRST_BAR), 600, seed=7)
    store_candles(sqlite_engine, "BTCUSDT", "1h", frame, source="import")
    published = datetime(2024, 2, 24, 8, tzinfo=UTC)
    import_headlines(
        sqlite_engine,
        [
            DatedHeadline(
                published_at=published + timedelta(days=d),
                available_at=published + timedelta(days=d + 1),
                title=f"Bitcoin story {d}",
                source="wire",
                currencies=["BTC"],
            )
            for d in (0, 1)  # the second becomes public after the decision (13:00 on the 25th)
        ],
    )
    settings = fake_settings(
        sentiment_data_dir=fear_greed_dir(tmp_path), data_source="store", llm_provider="rules"
    )
    client = FakeModelClient()
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="pit-replay",
            engine=sqlite_engine,
            settings=settings,
            as_of=AS_OF,
            context_overrides={"model_client": client},
        )
    )
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    sources = {e.node: e.output.get("source") for e in events if isinstance(e, AgentOutput)}
    assert sources["sentiment"] == "point-in-time"
    assert sources["tokenomics"] == "btc-issuance-schedule"
    (sentiment_call,) = [c for c in client.calls if c.agent == "sentiment"]
    user = sentiment_call.prompt.user
    assert "Bitcoin story 0" in user and "Bitcoin story 1" not in user
    assert "Fear & Greed index: 39" in user  # the value dated 2024-02-24 (day 19 → 20 + 19)


async def test_blind_analysis_shows_the_desk_an_anonymous_rebased_asset(
    sqlite_engine: Engine,
) -> None:
    client = FakeModelClient()
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="blind-1",
            engine=sqlite_engine,
            settings=fake_settings(),
            context_overrides=overrides(client),
            blind=True,
        )
    )
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    users = "\n".join(c.prompt.user for c in client.calls)
    assert "ASSET" in users and "BTC" not in users and "2024-" not in users
    (technical,) = [c for c in client.calls if c.agent == "technical"]
    close = re.search(r'"close":([0-9.]+)', technical.prompt.user)
    assert close is not None and 50 < float(close.group(1)) < 200  # rebased around 100
    assert any(isinstance(e, Decision) for e in events)


async def test_blind_cannot_execute(sqlite_engine: Engine) -> None:
    with pytest.raises(ValueError, match="blind"):
        await collect(
            run_analysis(
                "BTCUSDT",
                "1h",
                run_id="blind-2",
                engine=sqlite_engine,
                settings=fake_settings(),
                context_overrides=overrides(),
                blind=True,
                execute=True,
                portfolio_id=1,
            )
        )
