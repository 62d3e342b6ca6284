"""One error shape for every failure: `{"detail": str, "errors": [...]?}`.

Validation failures are 422 and name each offending field; unknown ids 404; budget refusals
429 with the reason; anything unexpected is logged here and reaches the client only as a
generic 500 — never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger("api.errors")


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[FieldError] | None = None


class ApiError(Exception):
    """An error with a status code and a message that is safe to show to the client."""

    status_code = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFoundError(ApiError):
    status_code = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident!s} not found")


class ConflictError(ApiError):
    status_code = 409


class UnprocessableError(ApiError):
    """Semantically invalid input that passed schema validation; names the field."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MethodNotAllowedError(ApiError):
    status_code = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(
            f"method {method} not allowed here; allowed: {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )


def allowed_methods(request: Request) -> list[str]:
    """The methods of the app's routes whose path matches this request's (other than the
    catch-all that is answering it): non-empty means the path exists, the method does not."""
    methods: set[str] = set()
    for route in request.app.routes:
        path_format = getattr(route, "path", "")
        if not isinstance(route, APIRoute) or "{path:path}" in path_format:
            continue
        match, _ = route.matches({**request.scope, "method": "__none__"})
        if match is not Match.NONE:
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


class BudgetExhaustedError(ApiError):
    status_code = 429


class RateLimitedError(ApiError):
    status_code = 429


class UnauthorizedError(ApiError):
    status_code = 401


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    # Drop the "body"/"query"/"path" prefix: the client knows where it sent the field.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _plain(message: str) -> str:
    """Pydantic prefixes a validator's own message with its error class ("Value error, ...")."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            # A rule between fields (core.bounds.cross_field) names its field in the context.
            field=str((e.get("ctx") or {}).get("field") or _field_name(e.get("loc", ()))),
            message=_plain(str((e.get("ctx") or {}).get("message") or e.get("msg", ""))),
            type=e["type"],
        )
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
    body = ErrorResponse(detail=f"invalid request: {summary}", errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


async def _api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = ErrorResponse(detail=exc.detail)
    if isinstance(exc, UnprocessableError):
        body.errors = [FieldError(field=exc.field, message=exc.message, type="value_error")]
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers
    )


async def _http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error shape for these status codes."""
    return {code: {"model": ErrorResponse} for code in codes}
