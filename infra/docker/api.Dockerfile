# syntax=docker/dockerfile:1.7
# cryptofirm API image: FastAPI + the web UI's static export, served by one process.
# Build from the repository root:
#   docker build -f infra/docker/api.Dockerfile -t cryptofirm-api .

# Base images are build arguments with the official defaults; machines without a container
# registry pass local stand-ins built from Debian packages (infra/podman/bases.sh).
# uv is pinned to the version that wrote uv.lock, so `--frozen` reads the lock as written.
ARG UV_VERSION=0.13.9
ARG UV_IMAGE=ghcr.io/astral-sh/uv:${UV_VERSION}
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${UV_IMAGE} AS uv

# --- web: the Next.js static export (web/out) -----------------------------------------
FROM ${NODE_IMAGE} AS web
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build && test -f out/index.html

# --- builder: the locked virtualenv ----------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.12 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (their own layer, rebuilt only when the lock changes), then the project.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=/app/uv.lock \
    --mount=type=bind,source=pyproject.toml,target=/app/pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY core ./core
COPY persistence ./persistence
COPY tools ./tools
COPY graph ./graph
COPY firm ./firm
COPY sessions ./sessions
COPY api ./api
COPY cli ./cli
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# --- runtime: the venv, the code and the UI export; no uv, node, npm or compiler ------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEB_OUT_DIR=/app/web/out \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 cryptofirm \
    && useradd --system --uid 10001 --gid cryptofirm --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin cryptofirm
WORKDIR /app
# Code stays root-owned and read-only to the app user; only var/ (SQLite fallback) is writable.
# The project is installed editable, so it keeps the /app layout the API expects (web/out beside it).
COPY --from=builder /app /app
COPY --from=web /web/out /app/web/out
COPY --chmod=0755 infra/docker/entrypoint.sh /usr/local/bin/cryptofirm-entrypoint
RUN mkdir -p /app/var && chown cryptofirm:cryptofirm /app/var
# numba (pandas-ta's indicators) caches compiled functions beside their sources; the venv is
# read-only to the app user, so the cache goes to a writable directory (else: no locator).
ENV NUMBA_CACHE_DIR=/tmp/numba-cache
USER 10001:10001
# 8000: the API (and UI); 9100: a worker's /metrics (`cryptofirm worker`).
EXPOSE 8000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]
ENTRYPOINT ["cryptofirm-entrypoint"]
CMD ["cryptofirm", "serve", "--host", "0.0.0.0", "--port", "8000"]
