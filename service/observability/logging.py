"""Structured JSON logs, one object per line, each carrying the request id of the request it belongs to.

Comment text is never logged: the service logs ids, counts, paths (never query strings, which may carry an
API key), statuses and timings only. The request id travels in a context variable, which Starlette copies
into the worker threads that run sync endpoints.
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

_request_id: ContextVar[str | None] = ContextVar("threadguard_request_id", default=None)

# attributes every LogRecord has; anything else was passed with ``extra=`` and is emitted as a field
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn adds an ANSI-coloured copy of the message
}
_MAX_FIELD_CHARS = 2_000


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None) -> Any:
    """Bind ``request_id`` to the current context; returns a token for :func:`reset_request_id`."""
    return _request_id.set(request_id)


def reset_request_id(token: Any) -> None:
    _request_id.reset(token)


_second_prefix: tuple[int, str] = (-1, "")


def _iso_millis(created: float) -> str:
    """``2024-06-01T12:00:00.123Z`` for a UNIX time; the seconds part is formatted once per second."""
    global _second_prefix
    second = int(created)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, prefix)
    return f"{prefix}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...extra}`` as one orjson line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _iso_millis(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _request_id.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in payload and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            exc_type, exc, tb = record.exc_info
            payload["exception"] = {
                "type": exc_type.__name__ if exc_type else None,
                "message": str(exc)[:_MAX_FIELD_CHARS],
                "stack": "".join(traceback.format_tb(tb))[-8_000:],
            }
        return orjson.dumps(payload, default=str).decode("utf-8")


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Route every logger (ours, uvicorn's, onnxruntime's Python side) through one stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        log.handlers[:] = []
        log.propagate = True
    # the access logger would print the raw path with its query string (?key=...); we log requests ourselves
    logging.getLogger("uvicorn.access").disabled = True
