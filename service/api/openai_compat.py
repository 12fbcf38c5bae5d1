"""OpenAI-compatible API: ``POST /v1/moderations``, usable with the official ``openai`` client.

Our labels are not OpenAI's categories, so the mapping below is deliberately narrow (docs/api.md explains
it): a category is only reported when one of our labels measures the same thing. All 13 category keys are
always present; those we do not model are ``false`` / ``0.0`` with no applied input types.
``flagged`` is our policy's decision (review or block), which may come from labels with no OpenAI
category (e.g. profanity), so ``flagged`` can be true while every category is false.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from service.api.errors import ApiError
from service.api.routing import CoreDep, LeanJsonRoute, OrjsonResponse, run_moderation
from service.auth import require_api_key
from service.core.moderation import ModerationItem, ModerationOutcome

router = APIRouter(tags=["openai"], route_class=LeanJsonRoute, dependencies=[Depends(require_api_key)])

PREFIX = "/v1/moderations"

OPENAI_CATEGORIES: tuple[str, ...] = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass(frozen=True)
class CategoryRule:
    """How one OpenAI category is derived from our labels.

    ``any``: score = max of the sources, flagged when any source reaches review.
    ``all``: score = min of the sources (an upper bound on both holding), flagged when all reach review.
    """

    sources: tuple[str, ...]
    combine: Literal["any", "all"] = "any"


CATEGORY_RULES: dict[str, CategoryRule] = {
    "harassment": CategoryRule(("insult",)),
    "harassment/threatening": CategoryRule(("threat",)),
    "hate": CategoryRule(("identity_attack",)),
    "hate/threatening": CategoryRule(("identity_attack", "threat"), combine="all"),
    "violence": CategoryRule(("threat",)),
}


InputSchema = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
                    "required": ["type", "text"],
                },
            },
        ],
        "description": "A string, an array of strings, or an array of {type: 'text', text} parts.",
    }
)


class ModerationsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: Annotated[Any, InputSchema]
    model: str | None = Field(default=None, description="Accepted and ignored: the served model answers.")


class ModerationResult(BaseModel):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]


class ModerationsResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]


def render_error(error: ApiError) -> Response:
    """OpenAI's error envelope; validation errors are HTTP 400 as OpenAI sends them."""
    status = 400 if error.status == 422 else error.status
    if status == 401:
        kind, code = "invalid_request_error", "invalid_api_key"
    elif status >= 500:
        kind, code = "server_error", None
    else:
        kind, code = "invalid_request_error", error.code
    body = {"error": {"message": error.message, "type": kind, "param": error.field, "code": code}}
    return OrjsonResponse(body, status_code=status, headers=error.headers)


def normalize_input(value: Any) -> list[str]:
    """The texts in an OpenAI ``input``; ApiError(400) naming the problem otherwise."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ApiError(400, "invalid_input", "input must be a string or an array", field="input")
    if not value:
        raise ApiError(400, "invalid_input", "input must not be an empty array", field="input")
    texts: list[str] = []
    for i, part in enumerate(value):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and part.get("type") == "image_url":
            raise ApiError(400, "unsupported_input", "image inputs are not supported; send text", field="input")
        else:
            raise ApiError(
                400,
                "invalid_input",
                f"input[{i}] must be a string or an object {{type: 'text', text: string}}",
                field="input",
            )
    return texts


def category_results(outcome: ModerationOutcome, labels: Sequence[str]) -> list[dict[str, Any]]:
    """One OpenAI result per item from our scores and per-label decision levels."""
    column = {label: j for j, label in enumerate(labels)}
    rules = {
        category: rule for category, rule in CATEGORY_RULES.items() if all(source in column for source in rule.sources)
    }
    scores = outcome.public_scores
    levels = outcome.decisions.levels
    results = []
    for i in range(len(outcome.items)):
        categories: dict[str, bool] = {}
        category_scores: dict[str, float] = {}
        applied: dict[str, list[str]] = {}
        for category in OPENAI_CATEGORIES:
            rule = rules.get(category)
            if rule is None:
                categories[category], category_scores[category], applied[category] = False, 0.0, []
                continue
            cols = [column[source] for source in rule.sources]
            values = [float(scores[i, c]) for c in cols]
            hits = [bool(levels[i, c] >= 1) for c in cols]
            if rule.combine == "all":
                category_scores[category], categories[category] = min(values), all(hits)
            else:
                category_scores[category], categories[category] = max(values), any(hits)
            applied[category] = ["text"]
        results.append(
            {
                "flagged": outcome.decision(i) != "allow",
                "categories": categories,
                "category_scores": category_scores,
                "category_applied_input_types": applied,
            }
        )
    return results


EXAMPLE_REQUEST = {"input": ["you are a stupid idiot", "thanks for the reporting"]}
EXAMPLE_RESPONSE = {
    "id": "modr-5c1f0e9a2b7d4c8e9f0a1b2c3d4e5f60",
    "model": "threadguard-ngram@2024.06.01",
    "results": [
        {
            "flagged": True,
            "categories": {c: c == "harassment" for c in OPENAI_CATEGORIES},
            "category_scores": {c: (0.97 if c == "harassment" else 0.0) for c in OPENAI_CATEGORIES},
            "category_applied_input_types": {c: (["text"] if c in CATEGORY_RULES else []) for c in OPENAI_CATEGORIES},
        }
    ],
}
REQUEST_EXAMPLES = {
    "strings": {"summary": "Array of strings", "value": EXAMPLE_REQUEST},
    "parts": {
        "summary": "Text parts",
        "value": {"input": [{"type": "text", "text": "you are a stupid idiot"}]},
    },
}
ERROR_EXAMPLE = {
    "error": {
        "message": "input must not be an empty array",
        "type": "invalid_request_error",
        "param": "input",
        "code": "invalid_input",
    }
}


@router.post(
    "/v1/moderations",
    response_model=ModerationsResponse,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}},
        400: {"description": "Invalid input", "content": {"application/json": {"example": ERROR_EXAMPLE}}},
        401: {"description": "Missing or invalid API key"},
    },
    summary="OpenAI-compatible moderation",
)
async def moderations(
    body: Annotated[ModerationsRequest, Body(openapi_examples=REQUEST_EXAMPLES)],
    core: CoreDep,
) -> Response:
    """Classifies each input like OpenAI's moderation endpoint, from threadguard's labels."""
    texts = normalize_input(body.input)
    request_id = f"modr-{uuid.uuid4().hex}"
    model = core.model()
    items = [ModerationItem(id=f"{request_id}-{i}", text=text) for i, text in enumerate(texts)]

    def render(outcome: ModerationOutcome) -> Response:
        payload = {
            "id": request_id,
            "model": f"{model.name}@{model.version}",
            "results": category_results(outcome, outcome.labels),
        }
        return OrjsonResponse(payload)

    # every label is scored so that `flagged` follows the full policy, not only the mapped labels
    return await run_moderation(core, items, render, source="openai", allow_empty_text=True, model=model)
