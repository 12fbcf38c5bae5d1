"""HTTP plumbing shared by the routers: orjson in both directions and the app-state dependencies.

* :class:`OrjsonRoute` parses JSON bodies with orjson, which is faster than ``json`` and rejects invalid
  UTF-8 and lone surrogate escapes (``"\\ud800"``) with a precise message; onnxruntime needs valid UTF-8.
* :class:`OrjsonResponse` renders the hot-path responses; handlers return it directly, so FastAPI skips the
  response-model re-validation (the response models still document the shape in OpenAPI).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from service.core.moderation import ModerationCore
from service.core.reload import ReloadCoordinator
from service.settings import Settings


class OrjsonRequest(Request):
    """A request whose ``json()`` uses orjson (raises ``orjson.JSONDecodeError``, a ``JSONDecodeError``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class OrjsonRoute(APIRoute):
    """An APIRoute that hands its endpoint an :class:`OrjsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def orjson_handler(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return orjson_handler


class OrjsonResponse(Response):
    """JSON response rendered with orjson (numpy scalars and arrays allowed)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


async def get_core(request: Request) -> ModerationCore:
    core: ModerationCore = request.app.state.core
    return core


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_coordinator(request: Request) -> ReloadCoordinator:
    coordinator: ReloadCoordinator = request.app.state.coordinator
    return coordinator


CoreDep = Annotated[ModerationCore, Depends(get_core)]
CoordinatorDep = Annotated[ReloadCoordinator, Depends(get_coordinator)]
