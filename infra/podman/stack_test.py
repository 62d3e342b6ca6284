"""The compose stack, built and run with podman: `make test-containers` (part of `make test`).

1. Local stand-ins for the official base images (bases.sh; no registry is reachable here).
2. The API and web images from infra/docker/*.Dockerfile, with those stand-ins as build
   arguments (`--network host` reaches only the package registries during the build).
3. infra/compose.yaml with podman-compose, in stages: podman 4.3 ignores `depends_on`
   conditions and runs no healthchecks by itself, so each stage is awaited here with
   `podman healthcheck run` (db → migrate exits 0 → api, worker → web).
4. Through the running containers: the images run as non-root, the API image holds no build
   tools, an analysis started on the API streams over SSE to `run_finished`, `/metrics` counts
   it, the API's JSON log lines carry its run id, the web page and its /api proxy answer.
5. Teardown (containers, network, volume), also on failure.

Runs offline: synthetic candles and the rules engine (DATA_SOURCE=synthetic, LLM_PROVIDER
rules), so no container talks to anything outside the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from api.sse_client import parse_sse_lines  # noqa: E402

HERE = Path(__file__).resolve().parent
COMPOSE_FILE = REPO / "infra" / "compose.yaml"
API_TAG = "localhost/cryptofirm-api:test"
WEB_TAG = "localhost/cryptofirm-web:test"


def log(message: str) -> None:
    print(f"[containers] {message}", flush=True)


def run(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), check=check, text=True, capture_output=capture, cwd=REPO, env=os.environ
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_images() -> dict[str, str]:
    out = run("bash", str(HERE / "bases.sh"), capture=True)
    sys.stderr.write(out.stderr)
    images = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    assert {"PYTHON_IMAGE", "NODE_IMAGE", "UV_IMAGE", "POSTGRES_IMAGE", "NGINX_IMAGE"} <= set(
        images
    ), out.stdout
    return images


def build(dockerfile: str, tag: str, args: dict[str, str], target: str | None = None) -> None:
    # Docker image format: the OCI format has no HEALTHCHECK (podman would drop it).
    command = ["podman", "build", "--format", "docker", "--network", "host"]
    command += ["-f", f"infra/docker/{dockerfile}"]
    for key, value in args.items():
        command += ["--build-arg", f"{key}={value}"]
    if target:
        command += ["--target", target]
    started = time.monotonic()
    done = run(*command, "-t", tag, ".", check=False, capture=True)
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-6000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"podman build of {dockerfile} failed ({done.returncode})")
    log(f"built {tag} from {dockerfile} in {time.monotonic() - started:.0f} s")


def wait_for(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(1)
    log(f"{what}: ready")


class Stack:
    def __init__(self, project: str, env: dict[str, str], compose: list[str]) -> None:
        self.project = project
        self.env = env
        self.compose = compose

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def up(self, *services: str) -> None:
        done = run(*self.compose, "up", "-d", "--no-deps", *services, check=False, capture=True)
        if done.returncode != 0:  # say why: podman's own message, not only an exit status
            print(done.stdout[-6000:], done.stderr[-6000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"compose up {' '.join(services)} failed ({done.returncode})")

    def healthy(self, service: str) -> bool:
        probe = run(
            "podman", "healthcheck", "run", self.container(service), check=False, capture=True
        )
        return probe.returncode == 0

    def exit_code(self, service: str) -> int:
        out = run("podman", "wait", self.container(service), capture=True)
        return int(out.stdout.strip().splitlines()[-1])

    def logs(self, service: str) -> str:
        out = run("podman", "logs", self.container(service), check=False, capture=True)
        return out.stdout + out.stderr

    def exec(self, service: str, *command: str) -> subprocess.CompletedProcess[str]:
        return run("podman", "exec", self.container(service), *command, check=False, capture=True)

    def down(self) -> None:
        run(*self.compose, "down", "-v", "-t", "5", check=False, capture=True)


def check_images() -> None:
    for tag in (API_TAG, WEB_TAG):
        user = run("podman", "image", "inspect", "--format", "{{.Config.User}}", tag, capture=True)
        name = user.stdout.strip().split(":")[0]
        assert name and name not in {"root", "0"}, f"{tag} runs as {name or 'root'}"
        health = run(
            "podman",
            "image",
            "inspect",
            "--format",
            "{{json .Config.Healthcheck}}",
            tag,
            capture=True,
        )
        assert "CMD" in health.stdout, f"{tag} has no healthcheck"
    tools = "for t in gcc cc g++ make uv npm node apt-get; do command -v $t || true; done"
    found = run(
        "podman",
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        API_TAG,
        "-c",
        tools,
        capture=True,
    ).stdout.split()
    # apt-get is the base image's; compilers, uv and node must not be there.
    assert not [t for t in found if not t.endswith("apt-get")], (
        f"build tools in the API image: {found}"
    )
    log("images: non-root users, healthchecks, no build tools in the API image")


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


def check_analysis(stack: Stack, api: str) -> str:
    with httpx.Client(base_url=api, timeout=30) as client:
        accepted = client.post("/api/analysis/runs", json={"symbol": "BTCUSDT", "interval": "1h"})
        assert accepted.status_code == 202, accepted.text
        run_id = str(accepted.json()["run_id"])
        with client.stream("GET", f"/api/analysis/runs/{run_id}/events", timeout=180) as response:
            assert response.status_code == 200
            events = list(parse_sse_lines(response.iter_lines()))
        kinds = [e.event for e in events]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished", kinds
        status = events[-1].data["status"]
        assert status == "completed", events[-1].data
        assert kinds.count("agent_output") == 6 and "decision" in kinds, kinds
        log(f"analysis {run_id}: {len(events)} SSE events, run_finished {status}")

        api_metrics = client.get("/metrics").text
        post = {"method": "POST", "route": "/api/analysis/runs", "status": "202"}
        assert sample(api_metrics, "cryptofirm_http_requests_total", **post) >= 1
        assert sample(api_metrics, "cryptofirm_queue_up") == 1, "the API reads no queue table"
    # The worker executed the run: its own /metrics (port 9100, inside the network) count it.
    probe = (
        "import urllib.request;"
        "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())"
    )
    worker_metrics = stack.exec("worker", "python", "-c", probe).stdout
    run_end = {"kind": "analysis", "status": "completed"}
    assert sample(worker_metrics, "cryptofirm_runs_finished_total", **run_end) == 1
    job = {"task": "firm:analysis", "status": "succeeded"}
    assert sample(worker_metrics, "cryptofirm_jobs_total", **job) == 1
    # The wait is measured from procrastinate's `deferred` event: only on the real Postgres.
    wait = {"task": "firm:analysis"}
    assert sample(worker_metrics, "cryptofirm_job_wait_seconds_count", **wait) == 1
    call = {"agent": "trader", "model": "rules", "provider": "rules", "outcome": "ok"}
    assert sample(worker_metrics, "cryptofirm_llm_calls_total", **call) == 1
    log("/metrics: the API counts the requests and reads the queue; the worker counts the run")

    lines = [json.loads(raw) for raw in stack.logs("worker").splitlines() if raw.startswith("{")]
    about_run = [line for line in lines if line.get("run_id") == run_id]
    assert any(line.get("event") == "run finished" for line in about_run), "no JSON run end"
    assert any("job_id" in line for line in about_run), "no JSON line with the run's job id"
    log(f"worker logs: {len(lines)} JSON lines, the run's carry run_id and job_id")
    return run_id


def check_web(web: str) -> None:
    with httpx.Client(base_url=web, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower(), page.status_code
        assert client.get("/api/health").status_code == 200, "web: /api proxy"
    log("web: page served, /api proxied to the API")


def main() -> int:
    started = time.monotonic()
    if os.environ.get("SKIP_CONTAINERS") == "1":
        log("SKIP_CONTAINERS=1: container test skipped")
        return 0
    compose_bin = os.environ.get("PODMAN_COMPOSE", "podman-compose")
    if not shutil.which(compose_bin) and not Path(compose_bin).exists():
        raise SystemExit(f"{compose_bin} not found")
    images = base_images()
    log(f"base images ready after {time.monotonic() - started:.0f} s")
    build(
        "api.Dockerfile",
        API_TAG,
        {k: images[k] for k in ("PYTHON_IMAGE", "NODE_IMAGE", "UV_IMAGE")},
    )
    build("web.Dockerfile", WEB_TAG, {k: images[k] for k in ("NODE_IMAGE", "NGINX_IMAGE")}, "serve")
    check_images()

    project = f"cftest{os.getpid()}"
    api_port, web_port = free_port(), free_port()
    env = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "POSTGRES_IMAGE": images["POSTGRES_IMAGE"],
        "API_IMAGE": API_TAG,
        "WEB_IMAGE": WEB_TAG,
        "API_PORT": str(api_port),
        "WEB_PORT": str(web_port),
        "DATA_SOURCE": "synthetic",
        "LOG_FORMAT": "json",
    }
    os.environ.update(env)
    compose = [compose_bin, "-p", project, "-f", str(COMPOSE_FILE)]
    stack = Stack(project, env, compose)
    try:
        stack.up("db")
        wait_for("db", lambda: stack.healthy("db"), 120)
        stack.up("migrate")
        code = stack.exit_code("migrate")
        assert code == 0, f"migrate exited {code}:\n{stack.logs('migrate')}"
        log("migrate: exit 0")
        stack.up("api", "worker")
        wait_for("api", lambda: stack.healthy("api"), 180)
        wait_for("worker", lambda: stack.healthy("worker"), 120)
        stack.up("web")
        wait_for("web", lambda: stack.healthy("web"), 60)
        for service in ("api", "worker", "web"):
            uid = stack.exec(service, "id", "-u").stdout.strip()
            assert uid and uid != "0", f"{service} runs as uid {uid!r}"
        check_analysis(stack, f"http://127.0.0.1:{api_port}")
        check_web(f"http://127.0.0.1:{web_port}")
    except BaseException:
        for service in ("db", "migrate", "api", "worker", "web"):
            print(f"----- logs: {service}\n{stack.logs(service)[-4000:]}", file=sys.stderr)
        raise
    finally:
        stack.down()
        log("stack torn down")
    log(f"container test passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
