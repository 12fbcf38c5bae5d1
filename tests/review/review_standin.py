"""A stand-in moderation app for the review tests, until ``service.app:create_app`` exists.

It does what the real moderation endpoint does as far as the review queue is concerned: score each comment,
decide, hand the flagged ones to the sink from :func:`install_review` unless the caller said ``store: false``,
and answer, without ever waiting on the queue. It also serves ``/metrics`` and ``/healthz``.

Run: ``uvicorn --factory review_standin:create_app`` with ``THREADGUARD_*`` settings in the environment.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from review_data import Comment, flagged_item

from service.review import install_review


class CommentIn(BaseModel):
    id: str = Field(max_length=255)
    text: str = Field(max_length=20_000)
    thread_id: str | None = None
    parent_id: str | None = None
    author_id: str | None = None


class ModerateRequest(BaseModel):
    items: list[CommentIn] = Field(min_length=1, max_length=100)
    store: bool = True
    client: str = "native"


class ItemResult(BaseModel):
    id: str
    decision: str
    triggered: list[str]
    scores: dict[str, float]


class ModerateResponse(BaseModel):
    results: list[ItemResult]


def create_app() -> FastAPI:
    app = FastAPI(title="threadguard review stand-in")
    sink = install_review(app)

    @app.post("/v1/moderate")
    async def moderate(request: ModerateRequest) -> ModerateResponse:
        now = datetime.now(UTC)
        flagged = [
            flagged_item(
                Comment(c.id, c.text, c.thread_id, c.parent_id, c.author_id), source=request.client, created_at=now
            )
            for c in request.items
        ]
        if request.store:
            sink.submit([item for item in flagged if item.decision != "allow"])
        return ModerateResponse(results=[
            ItemResult(id=item.item_id, decision=item.decision, triggered=list(item.triggered), scores=item.scores)
            for item in flagged
        ])

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"ok": True, "review": sink.status() if hasattr(sink, "status") else None}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
