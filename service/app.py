"""The FastAPI application factory.

``create_app(settings)`` wires one moderation core (model holder, policy, review sink) to the thin API
routers and keeps every piece of state on ``app.state``, reached through dependencies: no module globals,
so tests can build as many independent apps as they like. ``app_from_env`` is the factory uvicorn workers
import (``service.app:app_from_env``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Scope

from service.api import admin, native, openai_compat, ops, perspective, threads
from service.api.errors import ApiError, ErrorDialects, install_error_handlers
from service.api.limits import BodyLimitMiddleware
from service.auth import KeyRing
from service.core.errors import ModelRejected
from service.core.explain import ExplainerFactory, ngram_explainer
from service.core.model_holder import ModelHolder, ModelLoader
from service.core.moderation import Limits, ModerationCore
from service.core.reload import ReloadChannel, ReloadCoordinator
from service.core.review_sink import ReviewSink
from service.observability.logging import configure_logging
from service.observability.metrics import Metrics
from service.observability.middleware import RequestContextMiddleware
from service.settings import Settings
from threadguard import __version__

logger = logging.getLogger(__name__)

DESCRIPTION = """
Moderation classifier for comment threads. Three APIs over one core:

* **native** — `POST /v1/moderate`, `POST /v1/threads:moderate`
* **Perspective-compatible** — `POST /v1alpha1/comments:analyze`
* **OpenAI-compatible** — `POST /v1/moderations`

Limits, the label → OpenAI category mapping and Perspective compatibility notes: `docs/api.md`.
When API keys are configured, send `Authorization: Bearer KEY`, `X-API-Key: KEY` or `?key=KEY`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    review_sink: ReviewSink | None = None,
    review_installer: Callable[[FastAPI], ReviewSink] | None = None,
    explainer_factory: ExplainerFactory = ngram_explainer,
) -> FastAPI:
    """Build the service. The model loads in the lifespan (startup), off the event loop.

    ``review_sink`` is handed every flagged item (default: dropped). ``review_installer`` is the alternative
    for a queue that needs the app (routes, lifespan), e.g. ``service.review.install_review``: it is called
    with the app once the API routes are in place and returns the sink.
    """
    settings = settings or Settings()
    metrics = Metrics()
    loader = ModelLoader(
        settings.model,
        policy_path=settings.policy,
        intra_op_threads=settings.onnx_intra_op_threads,
        max_batch_chars=settings.max_batch_chars,
        explainer_factory=explainer_factory,
    )
    holder = ModelHolder(loader)
    holder.add_listener(metrics.model_swapped)
    channel = ReloadChannel(settings.state_dir) if settings.state_dir is not None else None
    coordinator = ReloadCoordinator(holder, channel, on_result=metrics.reload_result)
    limits = Limits(
        max_items=settings.max_items,
        max_text_bytes=settings.max_text_bytes,
        max_thread_comments=settings.max_thread_comments,
        max_labels=settings.max_labels_per_request,
        explain_top_k=settings.explain_top_k,
    )
    core = ModerationCore(holder, sink=review_sink, limits=limits, observer=metrics.observe_outcome)

    dialects = ErrorDialects()
    dialects.add(perspective.PREFIX, perspective.render_error)
    dialects.add(openai_compat.PREFIX, openai_compat.render_error)

    app = FastAPI(
        title="threadguard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.core = core
    app.state.coordinator = coordinator
    app.state.keyring = KeyRing.from_settings(settings)
    app.state.metrics = metrics
    app.state.dialects = dialects

    install_error_handlers(app, dialects)
    for module in (native, threads, perspective, openai_compat, ops, admin):
        app.include_router(module.router)
    if review_installer is not None:
        core.sink = review_installer(app)

    def unhandled(scope: Scope) -> Response:
        return dialects.render(scope.get("path", ""), ApiError(500, "internal_error", "internal error"))

    # added last = outermost: request id, logging and metrics also cover 413s from the body limit
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes, render=dialects.render)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, on_unhandled=unhandled)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    coordinator: ReloadCoordinator = app.state.coordinator
    try:
        await anyio.to_thread.run_sync(coordinator.startup)
    except ModelRejected as exc:
        if not settings.allow_start_without_model:
            logger.error("model failed to load; exiting", extra={"reason": exc.message})
            raise
        logger.error("model failed to load; serving as not ready", extra={"reason": exc.message})

    tasks: set[asyncio.Task[object]] = set()
    watcher = None
    if coordinator.channel is not None:
        watcher = asyncio.create_task(_watch_reloads(coordinator, settings.reload_poll_seconds))
    loop = asyncio.get_running_loop()
    sighup = settings.reload_on_sighup and _install_sighup(loop, coordinator, tasks)
    try:
        yield
    finally:
        app.state.metrics.flush()  # outcome counts still waiting for their flush
        if sighup:
            loop.remove_signal_handler(signal.SIGHUP)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _watch_reloads(coordinator: ReloadCoordinator, interval: float) -> None:
    """Poll the shared reload file and apply newer generations (see service/core/reload.py)."""
    while True:
        await asyncio.sleep(interval)
        try:
            if coordinator.channel is not None and coordinator.channel.changed():
                await anyio.to_thread.run_sync(coordinator.apply_published)
        except Exception:
            logger.exception("reload watcher iteration failed")


def _install_sighup(
    loop: asyncio.AbstractEventLoop, coordinator: ReloadCoordinator, tasks: set[asyncio.Task[object]]
) -> bool:
    """SIGHUP -> reload the configured model (and publish it to the other workers). Main thread only."""

    def on_sighup() -> None:
        logger.info("SIGHUP received; reloading")
        task = loop.create_task(_reload_logged(coordinator))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError):
        return False  # not the main thread (e.g. a test client) or no SIGHUP on this platform
    return True


async def _reload_logged(coordinator: ReloadCoordinator) -> object:
    try:
        return await anyio.to_thread.run_sync(lambda: coordinator.reload(origin="sighup"))
    except ModelRejected:
        pass  # logged by the coordinator
    except Exception:
        logger.exception("reload failed; keeping the current model")
    return None


def build_app(settings: Settings) -> FastAPI:
    """The production app for ``threadguard serve`` (single process and every worker): the API plus the
    review queue and console (``THREADGUARD_REVIEW_ENABLED=false`` turns the queue off)."""
    from service.review import install_review

    return create_app(settings, review_installer=install_review)


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from ``THREADGUARD_*``, JSON logging configured."""
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return build_app(settings)
