"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1 for the desk's failure tests.

Each request is answered by `faults[(agent, attempt)]` or `faults[agent]` (default "ok"):
- ok: a valid JSON answer (reasoning first), streamed word by word, usage in the last chunk;
- http500: HTTP 500 with an error body;
- malformed: HTTP 200 whose stream carries non-JSON data lines;
- hang: accepts the request and answers nothing for `hang_s` seconds;
- cut: streams the first words of a valid answer, then closes the connection (no usage, no
  [DONE]): a stream cut short.
The agent is recognised by its system prompt. Usage is deterministic: prompt tokens = prompt
characters // 4, completion tokens = streamed pieces.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graph.agents import researcher, risk_manager, sentiment, technical, tokenomics, trader

SYSTEM_PROMPTS = {
    module.SYSTEM: name
    for name, module in {
        "technical": technical,
        "sentiment": sentiment,
        "tokenomics": tokenomics,
        "researcher": researcher,
        "trader": trader,
        "risk_manager": risk_manager,
    }.items()
}
VALID: dict[str, dict[str, Any]] = {
    "technical": {"signal": "bullish", "score": 0.6, "confidence": 0.7, "summary": "uptrend"},
    "sentiment": {"signal": "neutral", "score": 0.1, "confidence": 0.4, "summary": "calm"},
    "tokenomics": {"signal": "neutral", "score": 0.0, "confidence": 0.5, "summary": "fixed"},
    "researcher": {"direction": "bullish", "conviction": 0.6, "summary": "trend up"},
    "trader": {"action": "buy", "size_pct": 5, "stop_loss": 95, "take_profit": 110},
    "risk_manager": {"verdict": "approve", "size_pct": 5, "stop_loss": 95, "take_profit": 110},
}
CUT_AFTER = 7
"""Pieces a `cut` stream delivers before the connection closes."""


def answer(agent: str) -> str:
    return json.dumps({"reasoning": f"The {agent} weighs the facts.", **VALID[agent]})


def pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]


@dataclass
class Served:
    agent: str
    attempt: int
    fault: str
    prompt_tokens: int
    completion_tokens: int
    streamed: str


@dataclass
class FaultServer:
    url: str = ""
    faults: dict[Any, str] = field(default_factory=dict)
    hang_s: float = 5.0
    served: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, agent: str | None = None) -> list[Served]:
        return [s for s in self.served if agent is None or s.agent == agent]


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = body["messages"]
            agent = SYSTEM_PROMPTS.get(messages[0]["content"], "unknown")
            with server.lock:
                attempt = sum(1 for s in server.served if s.agent == agent)
                fault = server.faults.get((agent, attempt), server.faults.get(agent, "ok"))
                record = Served(
                    agent, attempt, fault, sum(len(m["content"]) for m in messages) // 4, 0, ""
                )
                server.served.append(record)
            if fault == "http500":
                data = b'{"error": {"message": "upstream exploded", "type": "server_error"}}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if fault == "hang":
                time.sleep(server.hang_s)
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            base = {"id": f"chatcmpl-{agent}-{attempt}", "created": 1, "model": body["model"]}

            def send(chunk: dict[str, Any] | str) -> None:
                data = chunk if isinstance(chunk, str) else json.dumps(chunk)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

            def delta(content: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                choice = {"index": 0, "delta": content, "finish_reason": finish}
                return {**base, "object": "chat.completion.chunk", "choices": [choice]}

            if fault == "malformed":
                send("{this is not json")
                send("[DONE]")
                return
            parts = pieces(answer(agent))
            if fault == "cut":
                parts = parts[:CUT_AFTER]
            send(delta({"role": "assistant", "content": ""}))
            for part in parts:
                send(delta({"content": part}))
                record.completion_tokens += 1
                record.streamed += part
            if fault == "cut":
                return  # the connection closes mid-answer
            send(delta({}, "stop"))
            usage = {
                "prompt_tokens": record.prompt_tokens,
                "completion_tokens": record.completion_tokens,
                "total_tokens": record.prompt_tokens + record.completion_tokens,
            }
            send({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            send("[DONE]")

    return Handler


def serve_faults() -> Iterator[FaultServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.daemon_threads = True
    server = FaultServer(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    httpd.RequestHandlerClass = _handler(server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
