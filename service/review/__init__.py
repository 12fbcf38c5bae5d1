"""Review queue and reviewer console.

Flagged items reach the queue through the :class:`~service.core.review_sink.ReviewSink` this package returns
from :func:`install_review`; reviewers work through it in the console under ``/console``; their decisions
become training data through ``threadguard export-labels``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from service.core.review_sink import FlaggedItem, NullReviewSink, ReviewSink
from service.review.settings import ReviewSettings

if TYPE_CHECKING:  # the CLI imports this package too and needs neither FastAPI nor the writer
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry
    from sqlalchemy import Engine

    from service.review.context import ReviewContext
    from service.review.writer import ReviewQueueWriter

__all__ = ["ReviewSettings", "build_writer", "install_review"]

log = logging.getLogger(__name__)

#: longest wait at application start for the first migration attempt (a hanging database, not a refusing one)
STARTUP_WAIT_SECONDS = 10.0


def build_writer(
    settings: ReviewSettings,
    engine: Engine | None = None,
    registry: CollectorRegistry | None = None,
    enrich: Callable[[list[FlaggedItem]], list[FlaggedItem]] | None = None,
) -> ReviewQueueWriter:
    """A writer for ``settings`` that migrates the database before its first write. Not started.

    Its metrics go to ``registry`` (default: prometheus_client's global registry).
    """
    from service.review.db import make_engine, migrate
    from service.review.metrics import metrics_for
    from service.review.spill import SpillFile
    from service.review.writer import ReviewQueueWriter

    engine = engine or make_engine(settings.database_url)
    return ReviewQueueWriter(
        engine,
        SpillFile(settings.review_spill_path),
        store_decisions=settings.review_store_decisions,
        buffer_size=settings.review_buffer_size,
        batch_size=settings.review_batch_size,
        flush_interval=settings.review_flush_interval_seconds,
        retry_max=settings.review_retry_max_seconds,
        shutdown_timeout=settings.review_shutdown_timeout_seconds,
        prepare=migrate,
        metrics=metrics_for(registry),
        enrich=enrich,
    )


def install_review(app: FastAPI, settings: ReviewSettings | None = None) -> ReviewSink:
    """Mount the console under ``/console``, run the queue writer for the app's lifetime, return the sink.

    The writer starts (and migrates the database) when the app starts and drains or spills its buffer when it
    stops. If the database is unreachable at start the app starts anyway: moderation never waits for the
    review queue, items are buffered, and the console answers 503 until the database is there.

    Metrics (``threadguard_review_backlog`` and friends) are registered on the app's own registry when it has
    one (``app.state.metrics.registry``, as the service app does), else on prometheus_client's global one.
    """
    settings = settings or ReviewSettings()
    if not settings.review_enabled:
        return NullReviewSink()
    from service.review.console import router
    from service.review.context import APP_STATE_KEY, ReviewContext
    from service.review.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    registry = getattr(getattr(app.state, "metrics", None), "registry", None)
    writer = build_writer(settings, engine, registry, enrich=_span_enricher(app))
    context = ReviewContext(
        settings=settings, engine=engine, sessions=make_session_factory(engine), writer=writer
    )
    setattr(app.state, APP_STATE_KEY, context)
    app.include_router(router)
    _wrap_lifespan(app, context)
    return writer


def _span_enricher(app: FastAPI) -> Callable[[list[FlaggedItem]], list[FlaggedItem]]:
    """Give flagged items without spans (the caller did not ask for ``explain``) the spans of their triggered
    labels, so reviewers see highlights. Runs in the writer thread, never on the moderation request path, and
    only with the model version that scored the item."""

    def enrich(items: list[FlaggedItem]) -> list[FlaggedItem]:
        core = getattr(app.state, "core", None)
        model = core.holder.current if core is not None else None
        if model is None or not model.explainer.available:
            return items
        return [
            item if item.spans or item.model_version != model.version or not item.triggered
            else replace(item, spans=tuple(span.as_dict() for span in
                                          model.explainer.explain(item.text, list(item.triggered), top_k=3)))
            for item in items
        ]

    return enrich


def _wrap_lifespan(app: FastAPI, context: ReviewContext) -> None:
    import anyio.to_thread

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        context.writer.start()
        # wait for the first migration attempt only: a reachable database is ready before the first request,
        # an unreachable one does not delay moderation (the writer keeps retrying in the background)
        await anyio.to_thread.run_sync(context.writer.first_attempt_done.wait, STARTUP_WAIT_SECONDS)
        if not context.writer.ready.is_set():
            log.warning("review database not reachable at start; moderation runs, the queue buffers")
        try:
            async with inner(application) as state:
                yield state
        finally:
            await anyio.to_thread.run_sync(context.writer.stop)
            context.engine.dispose()

    app.router.lifespan_context = lifespan
