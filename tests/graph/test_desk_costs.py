"""Cost logging, the budget guard, output repair/fallback and the answer cache, through the
runner against a migrated SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from graph_fakes import (
    FAKE_MODEL,
    FakeModelClient,
    Usage,
    collect,
    fake_settings,
    json_reply,
    overrides,
    rules_text_reply,
)
from sqlalchemy import Engine, select

from core.settings import Settings
from graph.budget import BudgetExceededError, BudgetGuard, Reservation
from graph.graph import TRANSIENT_RETRY
from graph.models import Prompt
from graph.runner import run_analysis
from persistence.db import session_scope
from persistence.models import AgentLog, Run, Trade
from persistence.portfolios import create_portfolio

AGENTS = {"technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"}


def logs(engine: Engine, run_id: str) -> list[AgentLog]:
    with session_scope(engine) as s:
        return list(s.scalars(select(AgentLog).where(AgentLog.run_id == run_id)))


def run_row(engine: Engine, run_id: str) -> Run:
    with session_scope(engine) as s:
        run = s.get(Run, run_id)
        assert run is not None
        return run


async def test_every_call_is_logged_with_tokens_cost_and_latency(sqlite_engine: Engine) -> None:
    settings = fake_settings()
    client = FakeModelClient(delay_s=0.01)
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="cost-1",
            engine=sqlite_engine,
            settings=settings,
            context_overrides=overrides(client),
        )
    )
    rows = logs(sqlite_engine, "cost-1")
    assert {r.agent for r in rows} == AGENTS and len(rows) == 6
    # 100 prompt tokens at $1/Mtok + 50 completion at $2/Mtok = $0.0002 per call
    for r in rows:
        assert (r.model, r.prompt_tokens, r.completion_tokens) == (FAKE_MODEL, 100, 50)
        assert r.cost_usd == Decimal("0.0002") and r.latency_ms >= 10 and r.ok and not r.cached
    finished = events[-1]
    assert finished.type == "run_finished" and finished.status == "completed"
    assert finished.cost_usd == pytest.approx(0.0012)
    assert finished.prompt_tokens == 600 and finished.completion_tokens == 300
    outputs = [e for e in events if e.type == "agent_output"]
    assert {e.node for e in outputs} == AGENTS
    assert all(e.cost_usd == pytest.approx(0.0002) for e in outputs)
    tokens = [e for e in events if e.type == "token"]
    assert {e.node for e in tokens} == AGENTS
    assert run_row(sqlite_engine, "cost-1").status == "completed"


async def analyst_estimates(settings: Settings) -> dict[str, int]:
    """The budget's upper-bound estimate (tokens) of each agent's first call, from the prompts
    of one unconstrained run of the same desk."""
    from graph_fakes import desk_context, state_in

    from graph.graph import graph

    probe = FakeModelClient()
    await graph.ainvoke(state_in(), context=desk_context(probe, settings=settings))
    guard = BudgetGuard(settings)
    return {c.agent: guard.estimate(FAKE_MODEL, c.prompt.texts).tokens for c in probe.calls}


async def test_budget_exceeded_mid_run_stops_without_trade(sqlite_engine: Engine) -> None:
    # Each call reserves its upper-bound estimate before it starts. The limit holds exactly the
    # three analysts' reservations; they then really spend 3 × 3000 (more than reserved), so
    # the researcher's reservation is refused.
    estimates = await analyst_estimates(fake_settings())
    limit = sum(estimates[a] for a in ("technical", "sentiment", "tokenomics"))
    settings = fake_settings(budget_run_tokens=limit)
    pid = create_portfolio(sqlite_engine, "budget", Decimal(10_000)).id
    client = FakeModelClient(delay_s=0.05, usage=Usage(prompt_tokens=2500, completion_tokens=500))
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="budget-1",
            portfolio_id=pid,
            execute=True,
            engine=sqlite_engine,
            settings=settings,
            context_overrides=overrides(client),
        )
    )
    budget = [e for e in events if e.type == "budget"]
    assert len(budget) == 1 and budget[0].exceeded and budget[0].scope == "run"
    assert "run budget would be exceeded" in (budget[0].reason or "")
    assert events[-1].type == "run_finished" and events[-1].status == "budget_exceeded"
    assert not [e for e in events if e.type in ("decision", "trade")]
    assert {c.agent for c in client.calls} == {"technical", "sentiment", "tokenomics"}
    assert run_row(sqlite_engine, "budget-1").status == "budget_exceeded"
    with session_scope(sqlite_engine) as s:
        assert s.scalars(select(Trade)).all() == []


@pytest.mark.parametrize("fits", [1, 2])
async def test_parallel_analysts_never_exceed_the_run_limit(fits: int) -> None:
    """Three analysts start together; the limit has room for `fits` reservations. The others
    are refused before they call, so the spend (here equal to the estimates) stays within it."""
    from graph_fakes import desk_context, state_in

    from graph.graph import graph

    estimates = await analyst_estimates(fake_settings())
    biggest = max(estimates[a] for a in ("technical", "sentiment", "tokenomics"))
    limit = biggest * fits + biggest // 2
    settings = fake_settings(budget_run_tokens=limit, llm_max_output_tokens=800)
    guard = BudgetGuard(settings)
    # Each call really spends as much as the largest reservation: without reservations, all
    # three would pass their checks at spend 0 and spend 3 × biggest > limit.
    client = FakeModelClient(
        delay_s=0.05, usage=Usage(prompt_tokens=biggest - 800, completion_tokens=800)
    )
    ctx = desk_context(client, settings=settings, budget=guard)
    with pytest.raises(BudgetExceededError):
        await graph.ainvoke(state_in(), context=ctx)
    assert len(client.started) == fits
    assert guard.run_tokens <= limit


def test_budget_error_is_not_retried_by_langgraph() -> None:
    exc = BudgetExceededError(
        "run", "x", spent_usd=Decimal(0), limit_usd=Decimal(0), spent_tokens=0, limit_tokens=0
    )
    retry_on = TRANSIENT_RETRY.retry_on
    assert callable(retry_on) and not isinstance(retry_on, type)
    assert retry_on(exc) is False  # type: ignore[call-arg,operator]
    assert retry_on(ConnectionError()) is True  # type: ignore[call-arg,operator]


async def test_budget_node_runs_once(sqlite_engine: Engine) -> None:
    settings = fake_settings(budget_run_usd=Decimal("0.000001"))
    reservations: list[str] = []

    class CountingGuard(BudgetGuard):
        def reserve(self, model: str, prompt_texts: Sequence[str]) -> Reservation:
            reservations.append(model)
            return super().reserve(model, prompt_texts)

    client = FakeModelClient()
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="budget-2",
            engine=sqlite_engine,
            settings=settings,
            context_overrides=overrides(client, budget=CountingGuard(settings)),
        )
    )
    assert events[-1].status == "budget_exceeded"
    assert len(reservations) == 3  # one per analyst, none repeated by a retry
    assert client.calls == []


def malformed_then_valid(agent: str, prompt: Prompt, attempt: int) -> str:
    if agent == "trader" and attempt == 0:
        return "I think we should buy a lot. {not json"
    return rules_text_reply(agent, prompt)


def always_malformed_for(*agents: str):  # type: ignore[no-untyped-def]
    def script(agent: str, prompt: Prompt, attempt: int) -> str:
        if agent in agents:
            return json_reply("Here you go.", {"signal": "very up", "size_pct": "lots"})
        return rules_text_reply(agent, prompt)

    return script


async def test_malformed_output_is_repaired(sqlite_engine: Engine) -> None:
    client = FakeModelClient(script=malformed_then_valid)
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="repair-1",
            engine=sqlite_engine,
            settings=fake_settings(),
            context_overrides=overrides(client),
        )
    )
    assert client.attempts("trader") == 2
    repair_prompt = [c.prompt for c in client.calls if c.agent == "trader"][1]
    assert "did not match the required JSON schema" in repair_prompt.history[-1][1]
    trader_out = next(e for e in events if e.type == "agent_output" and e.node == "trader")
    assert not trader_out.fallback and trader_out.output["action"] == "buy"
    trader_logs = [r for r in logs(sqlite_engine, "repair-1") if r.agent == "trader"]
    assert [r.ok for r in trader_logs] == [False, True]
    assert trader_logs[0].raw_output == "I think we should buy a lot. {not json"
    assert trader_logs[0].error


async def test_unrepairable_output_falls_back_safely(sqlite_engine: Engine) -> None:
    client = FakeModelClient(script=always_malformed_for("technical", "trader", "risk_manager"))
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="fb-1",
            engine=sqlite_engine,
            settings=fake_settings(),
            context_overrides=overrides(client),
        )
    )
    out = {e.node: e for e in events if e.type == "agent_output"}
    assert out["technical"].fallback and out["technical"].output["confidence"] == 0
    assert out["technical"].output["signal"] == "neutral"
    assert out["trader"].fallback and out["trader"].output["action"] == "hold"
    assert not out["sentiment"].fallback
    # The trader and risk manager fell back: the decision could not be made.
    assert events[-1].status == "failed"
    assert "trader" in (events[-1].reason or "") and "risk_manager" in (events[-1].reason or "")
    assert run_row(sqlite_engine, "fb-1").status == "failed"
    assert any(e.type == "error" and "could not be made" in e.message for e in events)
    decision = next(e for e in events if e.type == "decision")
    assert decision.action == "hold"
    failed = [r for r in logs(sqlite_engine, "fb-1") if not r.ok]
    assert {r.agent for r in failed} == {"technical", "trader", "risk_manager"}
    assert all(r.raw_output and "very up" in r.raw_output for r in failed)
    assert len(failed) == 6  # first attempt + one repair each
    assert out["risk_manager"].fallback and out["risk_manager"].output["verdict"] == "reject"


async def test_risk_manager_fallback_rejects() -> None:
    from graph_fakes import desk_context, state_in

    from graph.graph import graph

    client = FakeModelClient(script=always_malformed_for("risk_manager"))
    out = await graph.ainvoke(state_in(), context=desk_context(client, run_id="rm-fb"))
    assert out["proposal"].action == "buy"
    assert out["review"].verdict == "reject"
    assert out["decision"].approved is False


async def test_provider_error_falls_back_and_is_logged(sqlite_engine: Engine) -> None:
    client = FakeModelClient(raise_for={"researcher": TimeoutError("upstream timed out")})
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="err-1",
            engine=sqlite_engine,
            settings=fake_settings(),
            context_overrides=overrides(client),
        )
    )
    out = next(e for e in events if e.type == "agent_output" and e.node == "researcher")
    assert out.fallback and out.output["direction"] == "neutral"
    row = next(r for r in logs(sqlite_engine, "err-1") if r.agent == "researcher")
    assert not row.ok and "upstream timed out" in (row.error or "")


async def test_answer_cache_hit_makes_no_model_calls(sqlite_engine: Engine) -> None:
    settings = fake_settings()
    first = FakeModelClient()
    await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="cache-1",
            engine=sqlite_engine,
            settings=settings,
            context_overrides=overrides(first, use_cache=True),
        )
    )
    assert len(first.calls) == 6
    second = FakeModelClient()
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="cache-2",
            engine=sqlite_engine,
            settings=settings,
            context_overrides=overrides(second, use_cache=True),
        )
    )
    assert second.calls == []
    rows = logs(sqlite_engine, "cache-2")
    assert len(rows) == 6 and all(r.cached and r.cost_usd == 0 for r in rows)
    assert events[-1].cost_usd == 0
    d1 = run_row(sqlite_engine, "cache-1").result
    d2 = run_row(sqlite_engine, "cache-2").result
    assert d1 and d2 and d1["decision"] == d2["decision"]


async def test_invalid_answers_are_recorded_and_replayed_identically(sqlite_engine: Engine) -> None:
    """Every response is recorded, valid or not: a replay repairs exactly as the original did,
    makes no call, and reports the same tokens and costs."""
    settings = fake_settings()
    first = FakeModelClient(script=malformed_then_valid)
    a = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="rec-1",
            engine=sqlite_engine,
            settings=settings,
            context_overrides=overrides(first, use_cache=True),
        )
    )
    assert first.attempts("trader") == 2
    replay = fake_settings(llm_replay=True)
    second = FakeModelClient(script=lambda *_: "never asked")
    b = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="rec-2",
            engine=sqlite_engine,
            settings=replay,
            context_overrides=overrides(second, use_cache=True),
        )
    )
    assert second.calls == []
    out_a = {e.node: e for e in a if e.type == "agent_output"}
    out_b = {e.node: e for e in b if e.type == "agent_output"}
    assert out_b["trader"].repaired and out_b["trader"].cached
    for node, event in out_a.items():
        assert out_b[node].output == event.output
        assert (out_b[node].prompt_tokens, out_b[node].cost_usd) == (
            event.prompt_tokens,
            event.cost_usd,
        )
    assert b[-1].status == a[-1].status == "completed"
    assert b[-1].cost_usd == 0  # nothing was spent by the replay itself


async def test_replay_without_a_recording_fails_the_run(sqlite_engine: Engine) -> None:
    client = FakeModelClient()
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="miss-1",
            engine=sqlite_engine,
            settings=fake_settings(llm_replay=True),
            context_overrides=overrides(client, use_cache=True),
        )
    )
    assert client.calls == []
    assert events[-1].status == "failed" and "replay" in (events[-1].reason or "")
    assert run_row(sqlite_engine, "miss-1").status == "failed"


async def _logged_when_asked(engine: Engine, run_id: str, usage: Usage) -> dict[str, int]:
    """Run an analysis whose calls use `usage`; per agent, how many of the run's calls were in
    `agent_logs` when that agent was first asked."""
    seen: dict[str, int] = {}

    def script(agent: str, prompt: Prompt, attempt: int) -> str:
        seen.setdefault(agent, len(logs(engine, run_id)))
        return rules_text_reply(agent, prompt)

    client = FakeModelClient(script=script, usage=usage)
    await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id=run_id,
            engine=engine,
            settings=fake_settings(),
            context_overrides=overrides(client),
        )
    )
    return seen


async def test_a_call_that_spent_is_logged_before_the_run_goes_on(sqlite_engine: Engine) -> None:
    """A killed worker must not lose spend the budgets count: when the trader is asked, the
    analysts' and the researcher's calls are already in `agent_logs`, not in a buffer that
    would be written at the end of the run."""
    seen = await _logged_when_asked(sqlite_engine, "spent-1", Usage(100, 50))
    assert seen["trader"] == 4  # technical, sentiment, tokenomics, researcher
    assert seen["risk_manager"] == 5


async def test_free_calls_stay_buffered_until_the_run_ends(sqlite_engine: Engine) -> None:
    seen = await _logged_when_asked(sqlite_engine, "free-1", Usage(0, 0))
    assert seen["risk_manager"] == 0  # one batch at the end: a backtest's hot path
    assert len(logs(sqlite_engine, "free-1")) == 6


def test_a_resumed_run_budget_counts_its_earlier_attempts(sqlite_engine: Engine) -> None:
    """A run resumed after its worker died does not get its whole budget again: its guard
    starts from what the run's logged calls spent (other runs' calls count for the day only)."""
    settings = fake_settings(budget_run_tokens=4_500, llm_max_output_tokens=800)
    with session_scope(sqlite_engine) as s:
        s.add(AgentLog(run_id="resumed", agent="technical", model=FAKE_MODEL, prompt_tokens=4_000))
        s.add(AgentLog(run_id="other", agent="technical", model=FAKE_MODEL, prompt_tokens=4_000))
    texts = ["a short prompt"]
    with pytest.raises(BudgetExceededError) as refused:
        BudgetGuard(settings, sqlite_engine, run_id="resumed").reserve(FAKE_MODEL, texts)
    assert refused.value.scope == "run" and refused.value.spent_tokens == 4_000
    fresh = BudgetGuard(settings, sqlite_engine, run_id="new-run")
    reserved = fresh.reserve(FAKE_MODEL, texts)
    assert fresh.run_tokens == reserved.tokens
    assert fresh.day_tokens == 8_000 + reserved.tokens  # both runs' calls are today's spend
