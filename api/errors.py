"""One error shape for every failure: `{"detail": str, "errors": [...]?}`.

Validation failures are 422 and name each offending field; unknown ids 404; budget refusals
429 with the reason; anything unexpected is logged here and reaches the client only as a
generic 500 — never a stack trace.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

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

    def __init__(self, field: str, message: str, *, type_: str = "value_error") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.type = type_


class MethodNotAllowedError(ApiError):
    status_code = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(
            f"method {method} not allowed here; allowed: {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )


class _Operations:
    """The app's OpenAPI paths as regexes: which methods a path has and which query
    parameters each operation declares. Built once from `app.openapi()`."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.paths: list[tuple[re.Pattern[str], dict[str, set[str]]]] = []
        for template, operations in document.get("paths", {}).items():
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            query = {
                method.upper(): {
                    p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
                }
                for method, operation in operations.items()
                if method != "parameters"
            }
            self.paths.append((re.compile(f"^{regex}$"), query))
        # A literal path (/backtests/estimate) wins over a template (/backtests/{run_id}).
        self.paths.sort(key=lambda item: item[0].pattern.count("[^/]+"))

    def find(self, path: str) -> dict[str, set[str]]:
        return next((ops for regex, ops in self.paths if regex.match(path)), {})


def _operations(app: Any) -> _Operations:
    cached: _Operations | None = getattr(app.state, "operations", None)
    if cached is None:
        cached = app.state.operations = _Operations(app.openapi())
    return cached


def allowed_methods(request: Request) -> list[str]:
    """The documented methods of this request's path: non-empty means the path exists and the
    method does not (405 with `Allow`), empty that the path is unknown (404)."""
    return sorted(_operations(request.app).find(request.url.path))


async def check_operation(request: Request) -> None:
    """405 when the most specific documented path lacks this method (GET /backtests/estimate
    must not be read as the backtest "estimate"); 422 naming a query parameter the operation
    does not declare (it would be silently ignored)."""
    operations = _operations(request.app).find(request.url.path)
    declared = operations.get(request.method)
    if declared is None:
        if operations and request.method != "HEAD":
            raise MethodNotAllowedError(request.method, sorted(operations))
        return
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise UnprocessableError(unknown[0], "unknown query parameter")


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
        body.errors = [FieldError(field=exc.field, message=exc.message, type=exc.type)]
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers
    )


# FastAPI answers a body it could not decode (not UTF-8, say) with a bare 400; JSON that is
# merely malformed is already a 422 `json_invalid`. Both are the client's body: one answer.
_BODY_NOT_PARSED = "There was an error parsing the body"


async def _http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_NOT_PARSED and exc.__cause__ is not None:
        reason = f"not valid JSON text ({type(exc.__cause__).__name__})"
        error = FieldError(field="body", message=reason, type="json_invalid")
        body = ErrorResponse(detail=f"invalid request: body: {reason}", errors=[error])
        return JSONResponse(body.model_dump(exclude_none=True), status_code=422)
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
