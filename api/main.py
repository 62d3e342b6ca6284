"""The FastAPI app: `create_app()` builds it; `app` is the module-level instance uvicorn loads,
`agent_server_app` the one the LangGraph Agent Server mounts (`langgraph.json` → `http.app`).

The lifespan owns everything with a lifetime: the database engine (migrated at startup), the
checkpointer (created inside the running event loop, as the async Postgres saver requires),
the run queue (`firm.jobs`), the LISTEN connection that wakes SSE relays (Postgres), the
embedded worker (unless API_EMBEDDED_WORKER=false) and the RunManager routes talk to.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.errors import (
    ErrorResponse,
    MethodNotAllowedError,
    NotFoundError,
    allowed_methods,
    check_operation,
    install_error_handlers,
)
from api.metrics import install_metrics, queue_depth_reporting
from api.routes import (
    agents,
    analysis,
    backtest,
    health,
    market,
    market_fetch,
    portfolio,
    sessions,
)
from api.run_manager import RunManager
from api.security import BodySizeLimitMiddleware, TokenBucketLimiter, install_cors
from core.settings import Settings, get_settings
from firm.hub import RunHub, listening
from firm.jobs import JobRuntime, open_queue
from firm.runners import GraphAnalysisRunner
from firm.worker import worker_running
from graph.checkpoint import open_checkpointer, postgres_conninfo, uses_postgres
from graph.events import run_event_adapter
from persistence.relay_reads import PostgresRelayReader

logger = logging.getLogger("api")

API_VERSION = "0.1.0"


def _lifespan_for(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import importlib

        from persistence.db import init_db

        postgres = uses_postgres(settings.database_url)
        if not postgres and not settings.api_embedded_worker:
            raise RuntimeError(
                "API_EMBEDDED_WORKER=false needs Postgres: with SQLite the API's own worker "
                "is the only one (runs would never start)"
            )
        engine = await asyncio.to_thread(init_db, settings.database_url)
        async with AsyncExitStack() as stack:
            app.state.engine = engine
            app.state.checkpointer = await stack.enter_async_context(
                open_checkpointer(settings.database_url)
            )
            hub = RunHub()
            queue = await stack.enter_async_context(open_queue(settings, engine, hub))
            conninfo = postgres_conninfo(settings.database_url) if postgres else None
            await stack.enter_async_context(listening(conninfo, hub))
            # Import the model clients now, in a thread, not on the first run start: the
            # route checks the model setup (`check_model_config`), and LangChain's imports
            # would hold this process's event loop — every stream it relays — for a second.
            for module in ("graph.context", "graph.rules_engine", "graph.models"):
                await asyncio.to_thread(importlib.import_module, module)
            if settings.api_embedded_worker:
                if app.state.analysis_runner is None:
                    # Import the desk now, not on the first request (LangChain imports take
                    # seconds and would count against the first run's time to first event).
                    await asyncio.to_thread(importlib.import_module, "graph.runner")
                    app.state.analysis_runner = GraphAnalysisRunner(
                        engine, settings, app.state.checkpointer
                    )
                runtime = JobRuntime(
                    engine=engine,
                    settings=settings,
                    analysis_runner=app.state.analysis_runner,
                    hub=hub,
                    backtest_decider=app.state.backtest_decider,
                )
                # An in-process queue starts empty: runs of a previous process are recovered.
                await stack.enter_async_context(
                    worker_running(queue, runtime, settings, recover_all=not postgres)
                )
            reader = (
                await stack.enter_async_context(PostgresRelayReader(conninfo))
                if conninfo is not None
                else None  # SQLite: the engine in a thread
            )
            app.state.run_manager = RunManager(engine, queue, hub, reader=reader)
            await stack.enter_async_context(queue_depth_reporting(engine))
            # What start-up loaded (LangChain, pandas, the app: ~300k objects) lives as long
            # as the process: out of the cyclic GC's full collections, each of which walked
            # it all (~0.25 s) and held every stream of the process meanwhile.
            gc.collect()
            gc.freeze()
            yield

    return lifespan


class SpaStaticFiles(StaticFiles):
    """Next.js static export: `/portfolio` is served from `portfolio.html` when present."""

    async def get_response(self, path: str, scope: Scope) -> Any:
        if path and "." not in path.rsplit("/", 1)[-1]:
            full, stat = self.lookup_path(path + ".html")
            if stat is not None and full:
                path = path + ".html"
        return await super().get_response(path, scope)


def _api_not_found_router() -> APIRouter:
    """Unknown `/api/...` paths answer JSON 404 instead of falling through to the UI; a known
    path with a method it does not have answers 405 with `Allow`."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def api_not_found(path: str, request: Request) -> None:
        allowed = allowed_methods(request)
        if allowed:
            raise MethodNotAllowedError(request.method, allowed)
        raise NotFoundError("route", f"/api/{path}")

    return router


def _custom_openapi(app: FastAPI) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # The run events (graph/events.py) are the SSE payloads: publish them as components
        # so the web UI can generate types, and `RunEvent` as their discriminated union.
        event_schema = run_event_adapter.json_schema(ref_template="#/components/schemas/{model}")
        components.update(event_schema.pop("$defs", {}))
        components["RunEvent"] = event_schema
        # One error shape everywhere: FastAPI's default 422 schema is replaced by ours.
        components.update(
            ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}").pop(
                "$defs", {}
            )
        )
        components["ErrorResponse"] = ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components["ErrorResponse"].pop("$defs", None)
        components["HTTPValidationError"] = {"$ref": "#/components/schemas/ErrorResponse"}
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    return build


def create_app(settings: Settings | None = None, *, serve_web: bool = True) -> FastAPI:
    """The API (and, with `serve_web`, the UI export at `/`)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="cryptofirm API",
        version=API_VERSION,
        description=(
            "A simulated crypto trading firm staffed by LLM agents. Runs execute in the "
            "background; their events stream over SSE (`event:` = event type, `id:` = "
            "per-run sequence, resume with `Last-Event-ID`). Mutating routes need "
            "`X-API-Key` when the server is configured with one."
        ),
        lifespan=_lifespan_for(settings),
        dependencies=[Depends(check_operation)],
    )
    app.state.settings = settings
    app.state.analysis_runner = None  # set in the lifespan unless a test installed one
    app.state.backtest_decider = None  # tests: a DeciderFactory for the embedded worker
    app.state.run_start_limiter = TokenBucketLimiter(settings.api_rate_limit_per_minute)
    install_error_handlers(app)
    install_cors(app, settings)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    install_metrics(app)  # /metrics: outside /api and the API key (scraped inside the VPC)

    for module in (health, market, market_fetch, portfolio, analysis, backtest, sessions, agents):
        app.include_router(module.router, prefix="/api")
    app.include_router(_api_not_found_router())
    app.openapi = _custom_openapi(app)  # type: ignore[method-assign]

    web_out = settings.web_out_dir
    if serve_web and web_out.is_dir():
        app.mount("/", SpaStaticFiles(directory=web_out, html=True), name="web")
    else:
        logger.info("no web UI export at %s; serving the API only", web_out)
    return app


app = create_app()


def create_agent_server_app(settings: Settings | None = None) -> FastAPI:
    """For the LangGraph Agent Server (`langgraph.json` → `http.app`): the API without the UI,
    whose catch-all mount at `/` would shadow the server's own routes (/threads, /runs, /ok).
    The server wraps ALL its routes in this app's middleware: CORS here applies to `/api/`
    only (the server's routes take `http.cors` from langgraph.json), and the resume guard
    refuses `command.resume` on a thread with nothing pending."""
    from api.agent_server import ResumeGuard

    server_app = create_app(settings, serve_web=False)
    server_app.add_middleware(ResumeGuard)
    return server_app


agent_server_app = create_agent_server_app()
