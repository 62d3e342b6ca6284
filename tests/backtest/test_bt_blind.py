"""Blind mode in backtests, and the memorisation guard on backtest reports."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from bt_helpers import T0, random_walk_frame
from sqlalchemy import Engine

from core.settings import Settings
from graph.backtest.data import prepare_data
from graph.backtest.desk import GraphDecider
from graph.backtest.engine import run_engine
from graph.backtest.runs import create_backtest_run, default_decider_factory, run_backtest
from graph.backtest.schemas import BacktestParams
from graph.costs import memorisation_note
from graph.rules_engine import RulesModelClient
from tools.headlines import DatedHeadline, memory_loader
from tools.sentiment import FearGreedHistory, PointInTimeSentimentProvider


def params(hours: int, *, blind: bool = False) -> BacktestParams:
    return BacktestParams(
        symbol="BTCUSDT", interval="1h", start=T0, end=T0 + timedelta(hours=hours), blind=blind
    )


def sentiment(tmp_path: Path) -> PointInTimeSentimentProvider:
    days = [T0.date() + timedelta(days=i) for i in range(-5, 30)]
    path = tmp_path / "fg.csv"
    path.write_text(
        "date,value,classification\n"
        + "".join(f"{d},{40 + i % 20},Fear\n" for i, d in enumerate(days))
    )
    news = [
        DatedHeadline(
            published_at=datetime.combine(d, datetime.min.time(), tzinfo=UTC),
            available_at=datetime.combine(d, datetime.min.time(), tzinfo=UTC) + timedelta(days=1),
            title=f"Bitcoin miners and Ethereum stakers react, day {i}",
            source="wire",
            currencies=["BTC", "ETH"],
        )
        for i, d in enumerate(days)
    ]
    return PointInTimeSentimentProvider(FearGreedHistory.from_csv(path), memory_loader(news))


class PromptLog(RulesModelClient):
    """The rules engine, keeping every user message it was shown."""

    def __init__(self) -> None:
        super().__init__()
        self.users: list[str] = []

    def chat_model(self, agent, prompt, schema):  # type: ignore[no-untyped-def]
        self.users.append(prompt.user)
        return super().chat_model(agent, prompt, schema)


def run(tmp_path: Path, *, blind: bool, client: RulesModelClient) -> tuple[object, GraphDecider]:
    p = params(240, blind=blind)
    data = prepare_data(random_walk_frame(440, seed=3), p, source="test")
    decider = GraphDecider.for_backtest(
        p, run_id=f"blind-{blind}", settings=Settings(), db=None, model_client=client
    )
    decider.inputs._sentiment = sentiment(tmp_path)
    try:
        outcome = run_engine(data.market, p, decider, data.snapshots, data_source="test")
    finally:
        decider.close()
    return outcome, decider


def test_blind_desk_sees_no_name_price_or_date_and_trades_the_same(tmp_path: Path) -> None:
    seen = PromptLog()
    blind, _ = run(tmp_path, blind=True, client=seen)
    plain, _ = run(tmp_path, blind=False, client=RulesModelClient())
    frame = random_walk_frame(440, seed=3)
    prompts = "\n".join(seen.users)
    assert "ASSET" in prompts and "2000-01-01" in prompts
    for word in ("BTC", "Bitcoin", "Ethereum"):
        assert word.lower() not in prompts.lower(), word
    assert not re.search(r"20(22|23)-\d\d-\d\d", prompts)  # no real date
    lo, hi = 0.9 * frame["low"].min(), 1.1 * frame["high"].max()  # the real price range
    numbers = [float(n) for n in re.findall(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])", prompts)]
    assert not [n for n in numbers if lo <= n <= hi]
    # The rules engine is scale-free: blind and plain decide alike, and the blind desk's
    # stops map back to the same real prices, so the fills match.
    assert [d.action for d in blind.state.decisions] == [d.action for d in plain.state.decisions]
    assert any(d.action == "buy" for d in plain.state.decisions)
    assert len(blind.fills) == len(plain.fills) > 0
    for b, p in zip(blind.fills, plain.fills, strict=True):
        assert (b.at, b.side) == (p.at, p.side)
        assert float(b.price) == pytest.approx(float(p.price), rel=1e-9)
        if p.stop_loss is not None:
            assert b.stop_loss is not None
            assert float(b.stop_loss) == pytest.approx(float(p.stop_loss), rel=1e-6)
    assert all(d.inputs is not None and d.inputs.blind for d in blind.state.decisions)
    assert all(d.inputs is not None and d.inputs.headline_count for d in blind.state.decisions)


def test_memorisation_note_follows_the_training_cutoff() -> None:
    llm = Settings(llm_provider="openai", llm_model_cheap="gpt-4o-mini", llm_model_strong="gpt-4o")
    day = timedelta(days=1)
    before = memorisation_note(
        llm, datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC)
    )
    assert before is not None and "lies before gpt-4o's training cutoff 2023-10-31" in before
    spanning = datetime(2023, 10, 1, tzinfo=UTC)
    assert "starts before" in (memorisation_note(llm, spanning, spanning + 60 * day) or "")
    after = datetime(2024, 1, 1, tzinfo=UTC)
    assert memorisation_note(llm, after, after + day) is None
    unknown = llm.model_copy(update={"llm_model_strong": "my-local-model"})
    assert "my-local-model's training cutoff is unknown" in (
        memorisation_note(unknown, after, after + day) or ""
    )
    assert memorisation_note(Settings(), datetime(2023, 1, 1, tzinfo=UTC), after) is None


def test_backtest_report_says_when_the_window_predates_the_cutoff(sqlite_engine: Engine) -> None:
    p = params(24)
    data = prepare_data(random_walk_frame(224), p, source="test")
    settings = Settings(
        llm_provider="openai",
        llm_model_cheap="gpt-4o-mini",
        llm_model_strong="gpt-4o-mini",
        backtest_cost_cap_usd=Decimal(5),
    )
    run_id = create_backtest_run(sqlite_engine, p, settings=settings)
    report = run_backtest(
        sqlite_engine,
        run_id,
        settings=settings,
        data=data,
        decider_factory=default_decider_factory(
            sqlite_engine, settings, model_client=RulesModelClient()
        ),
    )
    assert report.memorisation_note is not None
    assert report.warnings[0] == report.memorisation_note
    rules = run_backtest(
        sqlite_engine, create_backtest_run(sqlite_engine, p, settings=Settings()), data=data
    )
    assert rules.memorisation_note is None
