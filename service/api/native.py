"""Native API: ``POST /v1/moderate`` — a batch of comments in, scores, decisions and spans out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from service.api.routing import CoreDep, LeanJsonRoute, OrjsonResponse, run_moderation
from service.auth import require_api_key
from service.core.moderation import ModerationItem, ModerationOutcome

router = APIRouter(tags=["native"], route_class=LeanJsonRoute, dependencies=[Depends(require_api_key)])

Id = Field(min_length=1, max_length=256)


class ItemIn(BaseModel):
    """One comment. ``text`` must be non-empty valid Unicode of at most ``max_text_bytes`` UTF-8 bytes."""

    model_config = ConfigDict(extra="forbid")

    id: str = Id
    text: str
    parent_id: str | None = Field(default=None, max_length=256)
    thread_id: str | None = Field(default=None, max_length=256)
    author_id: str | None = Field(default=None, max_length=256)


class ModerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(description="1 to max_items (default 256) comments; ids unique.")
    labels: list[str] | None = Field(default=None, description="Only score and decide on these labels.")
    explain: StrictBool = Field(default=False, description="Add `spans` that explain each label.")
    store: StrictBool = Field(default=True, description="false: never hand these items to the review queue.")


class SpanOut(BaseModel):
    label: str
    begin: int = Field(description="Code-point offset into the original text (inclusive).")
    end: int = Field(description="Code-point offset (exclusive): text[begin:end].")
    weight: float = Field(description="How much this span raised the label's logit.")


class ItemResult(BaseModel):
    id: str
    scores: dict[str, float]
    decision: Literal["allow", "review", "block"]
    triggered: list[str] = Field(description="The labels at the level of the decision.")
    spans: list[SpanOut] | None = Field(default=None, description="Only with explain=true.")


class ModelRef(BaseModel):
    name: str
    version: str
    explanations_available: bool


class ModerateResponse(BaseModel):
    results: list[ItemResult]
    model: ModelRef


def item_results(outcome: ModerationOutcome) -> list[dict[str, Any]]:
    """Per-item JSON in request order (shared with the threads endpoint)."""
    results: list[dict[str, Any]] = []
    scores = outcome.score_dicts()
    for i, item in enumerate(outcome.items):
        result: dict[str, Any] = {
            "id": item.id,
            "scores": scores[i],
            "decision": outcome.decision(i),
            "triggered": outcome.triggered(i),
        }
        if outcome.spans is not None:
            result["spans"] = [span.as_dict() for span in outcome.spans[i]]
        results.append(result)
    return results


EXAMPLE_REQUEST = {
    "items": [
        {"id": "c1", "text": "Thanks for the careful reporting.", "thread_id": "t9"},
        {"id": "c2", "text": "you are a stupid idiot", "parent_id": "c1", "thread_id": "t9"},
    ],
    "explain": True,
}
EXAMPLE_RESPONSE = {
    "results": [
        {
            "id": "c1",
            "scores": {"toxicity": 0.02, "insult": 0.01},
            "decision": "allow",
            "triggered": [],
            "spans": [],
        },
        {
            "id": "c2",
            "scores": {"toxicity": 0.94, "insult": 0.97},
            "decision": "block",
            "triggered": ["insult"],
            "spans": [{"label": "insult", "begin": 10, "end": 22, "weight": 3.1}],
        },
    ],
    "model": {"name": "threadguard-ngram", "version": "2024.06.01", "explanations_available": True},
}
REQUEST_EXAMPLES = {"batch": {"summary": "Two comments", "value": EXAMPLE_REQUEST}}
ERROR_EXAMPLE = {
    "error": {
        "code": "text_too_long",
        "message": "items[0].text is 30000 UTF-8 bytes; the limit is 20480",
        "field": "items[0].text",
        "request_id": "5f0c...",
    }
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Malformed JSON or invalid UTF-8",
        "content": {
            "application/json": {
                "example": {
                    "error": {
                        "code": "invalid_json",
                        "message": "request body is not valid JSON: ...",
                        "request_id": "...",
                    }
                }
            }
        },
    },
    401: {"description": "Missing or invalid API key (when keys are configured)"},
    413: {"description": "Body over max_request_bytes"},
    422: {
        "description": "Invalid request (limits, empty text, unknown label, duplicate id, wrong types)",
        "content": {"application/json": {"example": ERROR_EXAMPLE}},
    },
    503: {"description": "No model loaded"},
}


@router.post(
    "/v1/moderate",
    response_model=ModerateResponse,
    responses={200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}}, **ERROR_RESPONSES},
    summary="Moderate a batch of comments",
)
async def moderate(
    body: Annotated[ModerateRequest, Body(openapi_examples=REQUEST_EXAMPLES)],
    core: CoreDep,
) -> Response:
    """Scores every item, applies the active policy and returns results in request order."""
    items = [ModerationItem(i.id, i.text, i.parent_id, i.thread_id, i.author_id) for i in body.items]
    return await run_moderation(
        core, items, render, labels=body.labels, explain=body.explain, store=body.store, source="native"
    )


def render(outcome: ModerationOutcome) -> Response:
    return OrjsonResponse({"results": item_results(outcome), "model": outcome.model_info()})
