"""Threads API: ``POST /v1/threads:moderate``: a reply tree in, per-comment results and a summary out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from service.api.native import ERROR_RESPONSES, Id, ItemResult, ModelRef, item_results
from service.api.routing import CoreDep, LeanJsonRoute, OrjsonResponse, run_offloaded
from service.auth import require_api_key
from service.core.moderation import ModerationItem

router = APIRouter(tags=["threads"], route_class=LeanJsonRoute, dependencies=[Depends(require_api_key)])


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    text: str
    parent_id: str | None = Field(default=None, max_length=256, description="null for a top-level comment")
    author_id: str | None = Field(default=None, max_length=256)


class ThreadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: str | None = Field(default=None, max_length=256)
    comments: list[CommentIn] = Field(description="1 to max_thread_comments (default 10,000); ids unique.")
    labels: list[str] | None = None
    explain: StrictBool = False
    store: StrictBool = True


class Chain(BaseModel):
    comment_ids: list[str]
    length: int
    mean_toxicity: float
    max_toxicity: float


class Escalation(BaseModel):
    rising: bool = Field(description="mean (reply - parent) toxicity above `threshold`")
    reply_pairs: int
    mean_delta: float | None
    depth_correlation: float | None = Field(description="Pearson correlation of reply depth and toxicity")
    threshold: float


class Counts(BaseModel):
    decisions: dict[str, int]
    labels: dict[str, dict[str, int]] = Field(description="label -> that label's own decision level -> count")


class ThreadSummary(BaseModel):
    comments: int
    counts: Counts
    most_heated_chain: Chain | None = Field(description="top-level-to-leaf chain with the highest mean toxicity")
    escalation: Escalation
    max_depth: int


class ThreadResponse(BaseModel):
    thread_id: str | None
    results: list[ItemResult]
    summary: ThreadSummary
    model: ModelRef


EXAMPLE_REQUEST = {
    "thread_id": "article-42",
    "comments": [
        {"id": "a", "text": "Sad news, thoughts with the families."},
        {"id": "b", "text": "This was staged, the photos are fake", "parent_id": "a"},
        {"id": "c", "text": "you are a stupid idiot", "parent_id": "b"},
    ],
}
EXAMPLE_RESPONSE = {
    "thread_id": "article-42",
    "results": [
        {"id": "a", "scores": {"toxicity": 0.02}, "decision": "allow", "triggered": []},
        {"id": "b", "scores": {"toxicity": 0.31}, "decision": "review", "triggered": ["atrocity_denial"]},
        {"id": "c", "scores": {"toxicity": 0.94}, "decision": "block", "triggered": ["insult"]},
    ],
    "summary": {
        "comments": 3,
        "counts": {
            "decisions": {"allow": 1, "review": 1, "block": 1},
            "labels": {"toxicity": {"allow": 2, "review": 1, "block": 0}},
        },
        "most_heated_chain": {
            "comment_ids": ["a", "b", "c"],
            "length": 3,
            "mean_toxicity": 0.42,
            "max_toxicity": 0.94,
        },
        "escalation": {
            "rising": True,
            "reply_pairs": 2,
            "mean_delta": 0.46,
            "depth_correlation": 0.97,
            "threshold": 0.05,
        },
        "max_depth": 2,
    },
    "model": {"name": "threadguard-ngram", "version": "2024.06.01", "explanations_available": True},
}
REQUEST_EXAMPLES = {"thread": {"summary": "A reply chain", "value": EXAMPLE_REQUEST}}
CYCLE_EXAMPLE = {"error": {"code": "cycle", "message": "reply cycle: x, y, x", "request_id": "..."}}


@router.post(
    "/v1/threads:moderate",
    response_model=ThreadResponse,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}},
        **ERROR_RESPONSES,
        422: {
            "description": "Invalid thread: duplicate_id, unknown_parent, cycle, too_many_items, ...",
            "content": {"application/json": {"example": CYCLE_EXAMPLE}},
        },
    },
    summary="Moderate a whole thread and summarise it",
)
async def moderate_thread(
    body: Annotated[ThreadRequest, Body(openapi_examples=REQUEST_EXAMPLES)],
    core: CoreDep,
) -> Response:
    """Validates the reply tree (unknown parents, cycles and duplicate ids are 422), then moderates it."""
    items = [ModerationItem(c.id, c.text, c.parent_id, body.thread_id, c.author_id) for c in body.comments]

    def work() -> Response:
        result = core.moderate_thread(items, labels=body.labels, explain=body.explain, store=body.store)
        payload: dict[str, Any] = {
            "thread_id": body.thread_id,
            "results": item_results(result.outcome),
            "summary": result.summary,
            "model": result.outcome.model_info(),
        }
        return OrjsonResponse(payload)

    return await run_offloaded(work, items=items, explain=body.explain)
