"""Errors in the shape each API family expects.

Every failure becomes an :class:`ApiError` (status, stable ``code``, human message) and is then rendered by
the *dialect* of the path it happened on: Perspective's ``{"error": {code, message, status, details}}``
under ``/v1alpha1/``, OpenAI's ``{"error": {message, type, param, code}}`` under ``/v1/moderations`` and the
native ``{"error": {code, message, field, request_id}}`` everywhere else. No handler lets a client error
become a 500, and a real 500 never carries internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api.routing import OrjsonResponse
from service.core.errors import CoreError, InvalidInput, ModelNotReady, ModelRejected, PolicyError
from service.observability.logging import current_request_id

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An HTTP error with a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        self.details = details  # dialect-specific extras (e.g. Perspective's languageNotSupportedByAttributeError)


Renderer = Callable[[ApiError], Response]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def render_native(error: ApiError) -> Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "request_id": current_request_id()}
    if error.field:
        body["field"] = error.field
    return OrjsonResponse({"error": body}, status_code=error.status, headers=error.headers)


def from_core_error(error: CoreError) -> ApiError:
    """Map core failures to HTTP statuses."""
    if isinstance(error, ModelNotReady):
        return ApiError(503, error.code, error.message)
    if isinstance(error, InvalidInput | ModelRejected | PolicyError):
        return ApiError(422, error.code, error.message, field=error.field)
    return ApiError(500, "internal_error", "internal error")


def from_validation_error(error: RequestValidationError) -> ApiError:
    """Turn pydantic's error list into one readable reason (malformed JSON -> 400)."""
    errors: Sequence[Any] = error.errors()
    for item in errors:
        if item.get("type") == "json_invalid":
            reason = (item.get("ctx") or {}).get("error", "malformed JSON")
            return ApiError(400, "invalid_json", f"request body is not valid JSON: {reason}")
    for item in errors:
        loc = tuple(item.get("loc", ()))
        if loc in {("body",), ()} and item.get("type") in {"model_attributes_type", "dict_type", "missing"}:
            if item.get("type") == "missing":
                return ApiError(422, "invalid_request", "request body is missing; send a JSON object")
            return ApiError(
                422,
                "invalid_request",
                "request body must be a JSON object sent with Content-Type: application/json",
            )
    parts = []
    first_field = None
    for item in errors[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        first_field = first_field or where
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ApiError(422, "invalid_request", "; ".join(parts) + more, field=first_field)


def from_http_exception(error: StarletteHTTPException) -> ApiError:
    code = _STATUS_CODES.get(error.status_code, "error")
    detail = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return ApiError(error.status_code, code, detail, headers=dict(error.headers or {}) or None)


class ErrorDialects:
    """Chooses a renderer by path prefix (longest prefix first)."""

    def __init__(self, default: Renderer = render_native) -> None:
        self._prefixes: list[tuple[str, Renderer]] = []
        self._default = default

    def add(self, prefix: str, renderer: Renderer) -> None:
        self._prefixes.append((prefix, renderer))
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)

    def for_path(self, path: str) -> Renderer:
        for prefix, renderer in self._prefixes:
            if path.startswith(prefix):
                return renderer
        return self._default

    def render(self, path: str, error: ApiError) -> Response:
        return self.for_path(path)(error)


def install_error_handlers(app: FastAPI, dialects: ErrorDialects) -> None:
    """Register handlers so every error leaves in the dialect of its path."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return dialects.render(request.url.path, exc)

    async def core_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CoreError)
        return dialects.render(request.url.path, from_core_error(exc))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return dialects.render(request.url.path, from_validation_error(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return dialects.render(request.url.path, from_http_exception(exc))

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return dialects.render(request.url.path, ApiError(500, "internal_error", "internal error"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(CoreError, core_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
