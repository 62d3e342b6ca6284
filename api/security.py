"""CORS, the optional API key, per-IP rate limiting and the request body limit."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RateLimitedError, UnauthorizedError
from core.settings import Settings


class CorsConfigError(ValueError):
    """Raised at startup: browsers reject `*` with credentials, and it would be unsafe."""


class ApiPathsOnly:
    """Applies the `inner` middleware to requests under `/api/` only. The Agent Server mounts this
    app's middleware around ALL its routes (`langgraph.json` → `http.app`); its own routes
    (/threads, /runs, ...) get CORS from `langgraph.json` → `http.cors` instead."""

    def __init__(self, app: ASGIApp, /, *, inner: type, **options: Any) -> None:
        self.app = app
        self.wrapped = inner(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/api" or path.startswith("/api/"):
            await self.wrapped(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_cors(app: FastAPI, settings: Settings) -> None:
    origins = settings.cors_origins
    if "*" in origins and settings.cors_allow_credentials:
        raise CorsConfigError(
            "cors_origins: '*' cannot be combined with cors_allow_credentials=true; "
            "list the allowed origins explicitly"
        )
    if not origins:
        return
    app.add_middleware(
        ApiPathsOnly,
        inner=CORSMiddleware,
        allow_origins=origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "X-API-Key", "Last-Event-ID"],
    )


def check_api_key(settings: Settings, supplied: str | None) -> None:
    """Mutating routes require `X-API-Key` when `settings.api_key` is configured."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value()
    if supplied is None or not secrets.compare_digest(supplied.encode(), expected.encode()):
        raise UnauthorizedError(
            "X-API-Key: missing or invalid API key", headers={"WWW-Authenticate": "APIKey"}
        )


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBucketLimiter:
    """In-memory token bucket per client key: `per_minute` requests, refilled continuously.

    Process-local by design (one API process serves the demo); behind several replicas the
    effective limit multiplies, which is acceptable for a cost guard, not for abuse control.
    """

    per_minute: int
    clock: object = field(default=time.monotonic)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def acquire(self, key: str) -> float | None:
        """Take one token; return None on success or the seconds until one is available."""
        now: float = self.clock()  # type: ignore[operator]
        capacity = float(self.per_minute)
        rate = capacity / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=capacity, updated=now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate if rate > 0 else math.inf

    def check(self, request: Request) -> None:
        key = request.client.host if request.client else "unknown"
        wait = self.acquire(key)
        if wait is not None:
            retry_after = "3600" if math.isinf(wait) else str(max(1, math.ceil(wait)))
            raise RateLimitedError(
                f"rate limit exceeded: {self.per_minute} run starts per minute per client",
                headers={"Retry-After": retry_after},
            )


class BodySizeLimitMiddleware:
    """413 for bodies above `max_bytes`, by Content-Length or by counting a streamed body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._reject(send, 400, "Content-Length: not an integer")
                    return
                if declared > self.max_bytes:
                    await self._reject(send, 413, self._too_large())
                    return
        if scope.get("method") not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        # Read the (bounded) body up front: an error raised mid-parse would be turned into a
        # 400 by FastAPI, and a limit must answer 413 before the route sees anything.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reject(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay_receive, send)

    def _too_large(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    @staticmethod
    async def _reject(send: Send, status: int, detail: str) -> None:
        import json

        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
