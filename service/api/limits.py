"""Request body size limit, enforced before any JSON parsing (413 in the dialect of the path)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import ApiError

ErrorRenderer = Callable[[str, ApiError], Response]


class BodyLimitMiddleware:
    """Rejects bodies over ``max_bytes``: by Content-Length up front, or while buffering a chunked body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, render: ErrorRenderer) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await self._reject(scope, receive, send, 400, "bad_request", "Content-Length is not a number")
            return
        if declared is not None:
            if declared > self.max_bytes:
                await self._too_large(scope, receive, send, declared)
                return
            await self.app(scope, receive, send)  # the server enforces the declared length
            return
        # chunked: buffer up to the limit, then replay to the app
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # disconnect: let the app see it
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send, size)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        buffered = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": buffered, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        message = f"request body is {'at least ' if size else ''}{size} bytes; the limit is {self.max_bytes}"
        await self._reject(scope, receive, send, 413, "request_too_large", message)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, msg: str) -> None:
        response = self.render(scope.get("path", ""), ApiError(status, code, msg))
        response.headers["connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """Declared length, None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None
