"""`OpenAIChatClient` (langchain-openai ChatOpenAI, custom base_url, `stream_usage=True`)
against a tiny OpenAI-compatible server on 127.0.0.1: whole desk decisions with streamed
tokens, per-agent usage, cost and model tier in `agent_logs`, the repair → fallback path, and
the day budget read from `agent_logs` stopping a run before its first call."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fault_server import SYSTEM_PROMPTS
from fault_server import VALID as VALID_OUTPUT
from graph_fakes import NOW, StaticMarketData, StaticSentiment, collect
from sqlalchemy import Engine, select

from core.settings import ModelPrice, Settings
from graph.agents import technical
from graph.models import OpenAIChatClient, Prompt
from graph.runner import run_analysis
from graph.schemas import AnalystReport
from persistence.db import init_db, session_scope
from persistence.models import AgentLog
from tools.tokenomics import PointInTimeTokenomicsProvider

CHEAP, STRONG = "fake-cheap", "fake-strong"
PRICES = {
    CHEAP: ModelPrice(input_per_mtok=Decimal("0.50"), output_per_mtok=Decimal("1.50")),
    STRONG: ModelPrice(input_per_mtok=Decimal("5.00"), output_per_mtok=Decimal("15.00")),
}
ANALYSTS = {"technical", "sentiment", "tokenomics"}
DECIDERS = {"researcher", "trader", "risk_manager"}


def valid_reply(agent: str) -> str:
    return f"Reasoning of the {agent}.\n```json\n{json.dumps(VALID_OUTPUT[agent])}\n```"


@dataclass
class ServedCall:
    agent: str
    model: str
    stream: bool
    include_usage: bool
    messages: list[dict[str, Any]]
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class FakeOpenAI:
    """What the server answers (`script(agent, attempt)`) and every request it served."""

    url: str
    script: Callable[[str, int], str] = lambda agent, attempt: valid_reply(agent)
    calls: list[ServedCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempts(self, agent: str) -> int:
        return sum(1 for c in self.calls if c.agent == agent)

    def of(self, agent: str) -> list[ServedCall]:
        return [c for c in self.calls if c.agent == agent]


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            if self.headers.get("Authorization") != "Bearer test-key":
                self._json(401, {"error": {"message": "bad key"}})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = body["messages"]
            agent = SYSTEM_PROMPTS.get(messages[0]["content"], "unknown")
            with fake.lock:
                attempt = fake.attempts(agent)
                text = fake.script(agent, attempt)
                # Deterministic usage the test can recompute: ~4 characters per prompt token,
                # one completion token per whitespace-separated word.
                prompt_tokens = sum(len(m["content"]) for m in messages) // 4
                words = text.split(" ")
                call = ServedCall(
                    agent=agent,
                    model=body["model"],
                    stream=bool(body.get("stream")),
                    include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
                    messages=messages,
                    text=text,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(words),
                )
                fake.calls.append(call)
            usage = {
                "prompt_tokens": call.prompt_tokens,
                "completion_tokens": call.completion_tokens,
                "total_tokens": call.prompt_tokens + call.completion_tokens,
            }
            base = {"id": "chatcmpl-1", "created": 1_700_000_000, "model": body["model"]}
            if not call.stream:
                self._json(
                    200,
                    {
                        **base,
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    },
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def send(chunk: dict[str, Any] | str) -> None:
                data = chunk if isinstance(chunk, str) else json.dumps(chunk)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

            def delta(content: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                choice = {"index": 0, "delta": content, "finish_reason": finish}
                return {**base, "object": "chat.completion.chunk", "choices": [choice]}

            send(delta({"role": "assistant", "content": ""}))
            for i, word in enumerate(words):
                send(delta({"content": word if i == len(words) - 1 else word + " "}))
            send(delta({}, "stop"))
            if call.include_usage:
                send({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            send("[DONE]")

    return Handler


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeOpenAI(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    httpd.RequestHandlerClass = _handler_for(fake)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


def openai_settings(tmp_path: Path, base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'openai.db'}",
        "data_source": "synthetic",
        "llm_provider": "openai_compatible",
        "llm_base_url": base_url,
        "llm_api_key": "test-key",
        "llm_model_cheap": CHEAP,
        "llm_model_strong": STRONG,
        "llm_prices": PRICES,
        "llm_timeout_s": 10.0,
        **overrides,
    }
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


def desk_overrides() -> dict[str, Any]:
    """Fixed market snapshot and sentiment; the model client comes from the settings."""
    return {
        "market_data": StaticMarketData(),
        "sentiment": StaticSentiment(),
        "tokenomics": PointInTimeTokenomicsProvider(),  # NOW predates the offline table
        "now": NOW,
    }


def agent_logs(engine: Engine, run_id: str) -> list[AgentLog]:
    with session_scope(engine) as s:
        return list(s.scalars(select(AgentLog).where(AgentLog.run_id == run_id)))


def expected_cost(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    price = PRICES[model]
    return (
        price.input_per_mtok * prompt_tokens + price.output_per_mtok * completion_tokens
    ) / Decimal(1_000_000)


async def test_desk_decision_through_the_openai_protocol(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(tmp_path, fake_openai.url)
    engine = init_db(settings.database_url)
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="openai-1",
            engine=engine,
            settings=settings,
            context_overrides=desk_overrides(),
        )
    )
    assert events[0].type == "run_started"
    assert (events[0].model_cheap, events[0].model_strong) == (CHEAP, STRONG)
    assert events[-1].type == "run_finished" and events[-1].status == "completed"

    # One streamed request per agent, each asking for the usage chunk, on its tier's model.
    assert sorted(c.agent for c in fake_openai.calls) == sorted(ANALYSTS | DECIDERS)
    for call in fake_openai.calls:
        assert call.stream and call.include_usage
        assert call.model == (CHEAP if call.agent in ANALYSTS else STRONG)

    # Tokens arrive as the server streamed them: per agent they spell the served text.
    tokens = [e for e in events if e.type == "token"]
    for call in fake_openai.calls:
        streamed = "".join(t.text for t in tokens if t.node == call.agent)
        assert streamed == call.text
        assert sum(1 for t in tokens if t.node == call.agent) == call.completion_tokens

    rows = {r.agent: r for r in agent_logs(engine, "openai-1")}
    assert set(rows) == ANALYSTS | DECIDERS
    for call in fake_openai.calls:
        row = rows[call.agent]
        assert row.ok and not row.cached and row.error is None
        assert row.model == call.model
        assert (row.prompt_tokens, row.completion_tokens) == (
            call.prompt_tokens,
            call.completion_tokens,
        )
        assert row.prompt_tokens > 100  # the real rendered prompt, not a stub
        assert row.cost_usd == expected_cost(call.model, call.prompt_tokens, call.completion_tokens)
        assert row.latency_ms > 0
    total = sum((r.cost_usd for r in rows.values()), Decimal(0))
    assert events[-1].cost_usd == pytest.approx(float(total))
    assert events[-1].prompt_tokens == sum(c.prompt_tokens for c in fake_openai.calls)

    decision = next(e for e in events if e.type == "decision")
    assert decision.action == "buy" and decision.approved  # the served trader/risk answers


async def test_second_identical_run_is_answered_from_the_cache(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(tmp_path, fake_openai.url)
    engine = init_db(settings.database_url)
    for run_id in ("cache-1", "cache-2"):
        await collect(
            run_analysis(
                "BTCUSDT",
                "1h",
                run_id=run_id,
                engine=engine,
                settings=settings,
                context_overrides=desk_overrides(),
            )
        )
    assert len(fake_openai.calls) == 6
    second = agent_logs(engine, "cache-2")
    assert len(second) == 6 and all(r.cached and r.cost_usd == 0 for r in second)


async def test_malformed_json_is_repaired_then_falls_back_with_raw_text_logged(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    garbage = 'I would buy. ```json\n{"action": "buy", "size_pct": }\n```'

    def script(agent: str, attempt: int) -> str:
        if agent == "trader":
            return garbage  # never valid: repair fails too → fallback
        if agent == "technical" and attempt == 0:
            return "Bullish, but I forgot the JSON block."  # repaired on attempt 2
        return valid_reply(agent)

    fake_openai.script = script
    settings = openai_settings(tmp_path, fake_openai.url)
    engine = init_db(settings.database_url)
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="repair-1",
            engine=engine,
            settings=settings,
            context_overrides=desk_overrides(),
        )
    )
    # The trader never answered validly: the decision could not be made.
    assert events[-1].status == "failed" and "trader" in (events[-1].reason or "")
    rows = agent_logs(engine, "repair-1")

    trader_rows = [r for r in rows if r.agent == "trader"]
    assert len(trader_rows) == 2 and not any(r.ok for r in trader_rows)
    assert all(r.raw_output == garbage and r.model == STRONG for r in trader_rows)
    assert all("invalid JSON" in (r.error or "") for r in trader_rows)
    # The repair request carried the bad answer and the validation error back to the model.
    repair = fake_openai.of("trader")[1].messages
    assert repair[-2] == {"role": "assistant", "content": garbage}
    assert "did not match the required JSON schema" in repair[-1]["content"]
    trader_out = next(e for e in events if e.type == "agent_output" and e.node == "trader")
    assert trader_out.fallback and trader_out.output["action"] == "hold"
    decision = next(e for e in events if e.type == "decision")
    assert decision.action == "hold"

    tech_rows = sorted((r for r in rows if r.agent == "technical"), key=lambda r: r.id)
    assert [r.ok for r in tech_rows] == [False, True]
    assert tech_rows[0].raw_output == "Bullish, but I forgot the JSON block."
    assert tech_rows[1].raw_output is None and tech_rows[1].model == CHEAP
    tech_out = next(e for e in events if e.type == "agent_output" and e.node == "technical")
    assert not tech_out.fallback and tech_out.output["signal"] == "bullish"


async def test_day_budget_spent_earlier_stops_the_run_before_any_call(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(tmp_path, fake_openai.url, budget_day_usd=Decimal("0.05"))
    engine = init_db(settings.database_url)
    with session_scope(engine) as s:  # earlier today: a run that spent the whole day budget
        s.add(
            AgentLog(
                run_id="earlier",
                agent="trader",
                model=STRONG,
                cost_usd=Decimal("0.05"),
                created_at=datetime.now(UTC),
            )
        )
    events = await collect(
        run_analysis(
            "BTCUSDT",
            "1h",
            run_id="day-1",
            engine=engine,
            settings=settings,
            context_overrides=desk_overrides(),
        )
    )
    budget = [e for e in events if e.type == "budget"]
    assert len(budget) == 1 and budget[0].scope == "day" and budget[0].exceeded
    assert budget[0].spent_usd == pytest.approx(0.05)
    assert events[-1].status == "budget_exceeded"
    assert fake_openai.calls == []
    assert agent_logs(engine, "day-1") == []


async def test_non_streaming_completion_reports_usage(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    client = OpenAIChatClient(openai_settings(tmp_path, fake_openai.url))
    chat = client._models[CHEAP].model_copy(update={"streaming": False})
    reply = await chat.ainvoke([("system", technical.SYSTEM), ("user", "BTC?")])
    served = fake_openai.calls[-1]
    assert not served.stream and served.model == CHEAP
    assert reply.content == valid_reply("technical")
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == served.prompt_tokens
    assert reply.usage_metadata["output_tokens"] == served.completion_tokens


async def test_unreachable_base_url_raises_a_connection_error(tmp_path: Path) -> None:
    """Nothing listening: the client raises (llm.call_agent logs it and falls back)."""
    settings = openai_settings(tmp_path, "http://127.0.0.1:9/v1", llm_timeout_s=2.0)
    client = OpenAIChatClient(settings)
    client._models = {
        name: model.model_copy(update={"max_retries": 0}) for name, model in client._models.items()
    }
    prompt = Prompt("s", "u")
    with pytest.raises(Exception, match="Connection"):
        await client.chat_model("technical", prompt, AnalystReport).ainvoke(prompt.messages())
