"""HTTP plumbing shared by the routers: orjson in both directions and the app-state dependencies.

* :class:`OrjsonRoute` parses JSON bodies with orjson, which is faster than ``json`` and rejects invalid
  UTF-8 and lone surrogate escapes (``"\\ud800"``) with a precise message; onnxruntime needs valid UTF-8.
* :class:`LeanJsonRoute` (the moderation endpoints) adds a lean path for the common case, a well-formed JSON
  body: it solves the route's simple async dependencies and validates the body model itself, skipping most
  of FastAPI's per-request machinery, and hands anything else (no/other content type, malformed JSON, an
  invalid body, dependency overrides) to FastAPI's own handler, so errors and their order are unchanged.
* :class:`OrjsonResponse` renders the hot-path responses; handlers return it directly, so FastAPI skips the
  response-model re-validation (the response models still document the shape in OpenAPI).
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from service.core.moderation import ModerationCore, ModerationItem, ModerationOutcome
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


class LeanJsonRoute(OrjsonRoute):
    """An :class:`OrjsonRoute` with a lean path for well-formed JSON requests (see the module docstring).

    The lean path is only built for an ``async def`` endpoint that takes one body model plus dependencies,
    where every dependency (recursively) is ``async`` and takes nothing but the request and other such
    dependencies; otherwise the route behaves exactly like :class:`OrjsonRoute`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = APIRoute.get_route_handler(self)  # FastAPI's handler, built for the effective route
        plan = _LeanPlan.build(_effective_dependant(self), self.endpoint)

        async def handler(request: Request) -> Response:
            orjson_request = OrjsonRequest(request.scope, request.receive)
            if plan is None or self._overridden(request):
                return await standard(orjson_request)
            return await plan.run(orjson_request, standard)

        handler.lean = plan is not None  # type: ignore[attr-defined]  # introspection for tests
        return handler

    def _overridden(self, request: Request) -> bool:
        """Dependency overrides (tests) are FastAPI's business: any present means the standard path."""
        for provider in (self.dependency_overrides_provider, request.scope.get("app")):
            if getattr(provider, "dependency_overrides", None):
                return True
        return False


def _effective_dependant(route: APIRoute) -> Any:
    """The dependant FastAPI builds this handler for (an inclusion may add dependencies); None if unknown."""
    import fastapi.routing

    var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = var.get() if var is not None else None
    if context is None:
        return route.dependant
    if getattr(context, "original_route", None) is route:
        return getattr(context, "dependant", None)
    return None


def _is_async(call: Any) -> bool:
    if inspect.isclass(call):
        return False
    if inspect.isfunction(call) or inspect.ismethod(call):
        return inspect.iscoroutinefunction(call)
    return inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004 - instances (security schemes)


_UNSUPPORTED_PARAMS = (
    "path_params",
    "query_params",
    "header_params",
    "cookie_params",
    "body_params",
)
_UNSUPPORTED_SPECIALS = (
    "websocket_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


_LEAN_EQUIVALENTS: dict[Callable[..., Any], Callable[[Request], Awaitable[Any]]] = {}


def register_lean_equivalent(dependency: Callable[..., Any], equivalent: Callable[[Request], Awaitable[Any]]) -> None:
    """On the lean path, call ``equivalent(request)`` instead of solving ``dependency`` and its sub-dependencies.

    For a dependency whose sub-dependencies cost more to solve one by one than to ask directly (the API key:
    three security schemes). ``equivalent`` must return what ``dependency`` would; FastAPI's path and the
    OpenAPI document keep using the declared chain. Each registration needs a test comparing the two.
    """
    _LEAN_EQUIVALENTS[dependency] = equivalent


@dataclass(frozen=True)
class _LeanDependency:
    name: str | None
    call: Callable[..., Any]
    use_cache: bool
    request_params: tuple[str, ...]
    dependencies: tuple[_LeanDependency, ...]

    @classmethod
    def build(cls, dependant: Any) -> _LeanDependency | None:
        call = dependant.call
        if call is None or not _is_async(call) or getattr(dependant, "own_oauth_scopes", None):
            return None
        equivalent = _LEAN_EQUIVALENTS.get(call)
        if equivalent is not None:
            return cls(dependant.name, equivalent, dependant.use_cache, ("request",), ())
        if any(getattr(dependant, name) for name in _UNSUPPORTED_PARAMS + _UNSUPPORTED_SPECIALS):
            return None
        subs = []
        for sub in dependant.dependencies:
            built = cls.build(sub)
            if built is None or built.name is None:
                return None
            subs.append(built)
        request_params = tuple(
            name for name in (dependant.request_param_name, dependant.http_connection_param_name) if name
        )
        return cls(dependant.name, call, dependant.use_cache, request_params, tuple(subs))

    async def solve(self, request: Request, cache: dict[Any, Any]) -> Any:
        if self.use_cache and self.call in cache:
            return cache[self.call]
        kwargs: dict[str, Any] = dict.fromkeys(self.request_params, request)
        for sub in self.dependencies:
            kwargs[sub.name] = await sub.solve(request, cache)  # type: ignore[index]
        value = await self.call(**kwargs)
        if self.use_cache:
            cache[self.call] = value
        return value


@dataclass(frozen=True)
class _LeanPlan:
    endpoint: Callable[..., Coroutine[Any, Any, Any]]
    body_name: str
    body_field: Any  # fastapi's ModelField
    dependencies: tuple[_LeanDependency, ...]  # route-level (unnamed) and endpoint parameters (named)

    @classmethod
    def build(cls, dependant: Any, endpoint: Callable[..., Any]) -> _LeanPlan | None:
        if dependant is None or not inspect.iscoroutinefunction(endpoint) or dependant.call is not endpoint:
            return None
        if len(dependant.body_params) != 1 or any(
            getattr(dependant, name) for name in _UNSUPPORTED_PARAMS[:-1] + _UNSUPPORTED_SPECIALS
        ):
            return None
        if dependant.request_param_name or dependant.http_connection_param_name:
            return None
        body_field = dependant.body_params[0]
        if not (inspect.isclass(body_field.field_info.annotation) and hasattr(body_field, "validate")):
            return None
        deps = []
        for sub in dependant.dependencies:
            built = _LeanDependency.build(sub)
            if built is None:
                return None
            deps.append(built)
        return cls(endpoint, body_field.name, body_field, tuple(deps))

    async def run(self, request: OrjsonRequest, standard: Callable[[Request], Awaitable[Response]]) -> Response:
        if not _is_json_content_type(request.scope):
            return await standard(request)
        try:
            payload = await request.json()
        except Exception:  # malformed JSON, an empty body, a disconnect: FastAPI renders these (body cached)
            return await standard(request)
        cache: dict[Any, Any] = {}
        kwargs: dict[str, Any] = {}
        for dependency in self.dependencies:  # in FastAPI's order: router dependencies first
            value = await dependency.solve(request, cache)
            if dependency.name is not None:
                kwargs[dependency.name] = value
        body, errors = self.body_field.validate(payload, {}, loc=("body",))
        if errors:
            return await standard(request)  # FastAPI builds the validation error (the body is cached)
        kwargs[self.body_name] = body
        response = await self.endpoint(**kwargs)
        if not isinstance(response, Response):
            raise TypeError(f"{self.endpoint.__name__} must return a Response on the lean path")
        return response


def _is_json_content_type(scope: Any) -> bool:
    """``application/json`` with optional parameters (what FastAPI parses as JSON); anything else: False."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json"
    return False


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


T = TypeVar("T")

INLINE_MAX_CHARS = 2_000
"""Requests with at most this many characters of text (and no explanations) run on the event loop.

Scoring them costs from ~0.2 ms to ~1 ms, less than handing them to a worker thread and back, and on the loop
concurrent ones are coalesced into one ONNX run (``ModerationCore.moderate_async``). Larger requests run in the
thread pool, so one big batch does not stall the worker's other requests.
"""


def runs_inline(items: Sequence[ModerationItem], *, explain: bool = False) -> bool:
    """Whether a request is small enough to be moderated on the event loop (see :data:`INLINE_MAX_CHARS`)."""
    if explain:
        return False
    budget = INLINE_MAX_CHARS
    for item in items:
        budget -= len(item.text)
        if budget < 0:
            return False
    return True


async def run_moderation(
    core: ModerationCore,
    items: Sequence[ModerationItem],
    render: Callable[[ModerationOutcome], T],
    *,
    explain: bool = False,
    **options: Any,
) -> T:
    """Moderate ``items`` and ``render`` the outcome: inline and coalesced when small, else in a worker thread."""
    if runs_inline(items, explain=explain):
        return render(await core.moderate_async(items, explain=explain, **options))
    return await offload(lambda: render(core.moderate(items, explain=explain, **options)))


async def run_offloaded(work: Callable[[], T], *, items: Sequence[ModerationItem], explain: bool = False) -> T:
    """Run ``work`` inline when ``items`` are small (:func:`runs_inline`), else in a worker thread."""
    if runs_inline(items, explain=explain):
        return work()
    return await offload(work)


OFFLOAD_THREADS = 2
"""Large requests scored at the same time by one worker process; more wait their turn, first come first served.

More would only time-slice the same cores, and each concurrent onnxruntime run holds its own buffers: the bound
keeps a worker's memory flat under bursts of large batches (see docs/performance.md, soak).
"""

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


async def offload(work: Callable[[], T]) -> T:
    """Run ``work`` in a worker thread, at most :data:`OFFLOAD_THREADS` at a time per event loop."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(OFFLOAD_THREADS)
    return await anyio.to_thread.run_sync(work, limiter=limiter)
