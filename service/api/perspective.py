"""Perspective-compatible API: ``POST /v1alpha1/comments:analyze``.

A Perspective client should only have to change its base URL. Request and response field names, the
``PROBABILITY`` score type, ``scoreThreshold`` (summary omitted below it), ``?key=`` and the error shape
(``{"error": {code, message, status, details: [{errorType}]}}``) follow Perspective. Differences are listed
in docs/api.md: English only, span offsets are code points, spans come from n-gram explanations.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool

from service.api.errors import ApiError
from service.api.routing import CoreDep, LeanJsonRoute, OrjsonResponse, run_moderation
from service.auth import require_api_key
from service.core.errors import InvalidInput
from service.core.model_holder import LoadedModel
from service.core.moderation import SCORE_DECIMALS, ModerationCore, ModerationItem, ModerationOutcome
from service.core.text import check_text

router = APIRouter(tags=["perspective"], route_class=LeanJsonRoute, dependencies=[Depends(require_api_key)])

PREFIX = "/v1alpha1/"
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
SCORE_TYPE = "PROBABILITY"

# error types this endpoint emits (ApiError.code values used verbatim)
COMMENT_EMPTY = "COMMENT_EMPTY"
COMMENT_TOO_LONG = "COMMENT_TOO_LONG"
NO_REQUESTED_ATTRIBUTES = "NO_REQUESTED_ATTRIBUTES"
LANGUAGE_NOT_SUPPORTED = "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
INVALID_REQUEST = "INVALID_REQUEST"
_FROM_CORE_CODES = {
    "text_empty": COMMENT_EMPTY,
    "items_empty": COMMENT_EMPTY,
    "text_too_long": COMMENT_TOO_LONG,
    "request_too_large": COMMENT_TOO_LONG,
}
_GRPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    type: str | None = Field(default=None, description='"PLAIN_TEXT" (the only supported type)')


class AttributeParameters(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    scoreType: str | None = Field(default=None, validation_alias=AliasChoices("scoreType", "score_type"))
    scoreThreshold: float | None = Field(
        default=None, ge=0.0, le=1.0, validation_alias=AliasChoices("scoreThreshold", "score_threshold")
    )


class ContextEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    type: str | None = None


class Context(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entries: list[ContextEntry] = Field(default_factory=list)


class AnalyzeRequest(BaseModel):
    """Perspective's AnalyzeCommentRequest (camelCase or snake_case field names, as proto3 JSON allows)."""

    model_config = ConfigDict(extra="ignore")

    comment: Comment | None = None
    requestedAttributes: dict[str, AttributeParameters] | None = Field(
        default=None, validation_alias=AliasChoices("requestedAttributes", "requested_attributes")
    )
    spanAnnotations: StrictBool = Field(
        default=False, validation_alias=AliasChoices("spanAnnotations", "span_annotations")
    )
    languages: list[str] | None = None
    doNotStore: StrictBool = Field(default=False, validation_alias=AliasChoices("doNotStore", "do_not_store"))
    clientToken: str | None = Field(
        default=None, max_length=1024, validation_alias=AliasChoices("clientToken", "client_token")
    )
    context: Context | None = Field(default=None, description="Accepted and ignored.")
    sessionId: str | None = Field(default=None, validation_alias=AliasChoices("sessionId", "session_id"))
    communityId: str | None = Field(default=None, validation_alias=AliasChoices("communityId", "community_id"))


class Score(BaseModel):
    value: float
    type: str = SCORE_TYPE


class SpanScore(BaseModel):
    begin: int
    end: int
    score: Score


class AttributeScores(BaseModel):
    summaryScore: Score | None = None
    spanScores: list[SpanScore] = Field(default_factory=list)


class AnalyzeResponse(BaseModel):
    attributeScores: dict[str, AttributeScores]
    languages: list[str]
    clientToken: str | None = None


def render_error(error: ApiError) -> Response:
    """Perspective's error envelope; every client error is HTTP 400 as Perspective sends it."""
    status = 400 if error.status in {413, 415, 422} else error.status
    error_type = _FROM_CORE_CODES.get(error.code, error.code)
    if not error_type.isupper():
        error_type = INVALID_REQUEST if status < 500 else "INTERNAL_ERROR"
    detail: dict[str, Any] = {"@type": ERROR_TYPE, "errorType": error_type}
    if error.details:
        detail.update(error.details)
    body = {
        "error": {
            "code": status,
            "message": error.message,
            "status": _GRPC_STATUS.get(status, "UNKNOWN"),
            "details": [detail],
        }
    }
    return OrjsonResponse(body, status_code=status, headers=error.headers)


def attribute_name(label: str) -> str:
    return label.upper()


def _labels_for(model: LoadedModel, requested: dict[str, AttributeParameters]) -> dict[str, str]:
    """Attribute name -> model label, rejecting unknown attributes and score types."""
    by_attribute = {attribute_name(label): label for label in model.labels}
    mapping: dict[str, str] = {}
    for name, params in requested.items():
        label = by_attribute.get(name.upper())
        if label is None:
            raise ApiError(
                400,
                INVALID_REQUEST,
                f"Unknown attribute: {name}. This model supports {sorted(by_attribute)}",
            )
        if params.scoreType not in (None, SCORE_TYPE):
            raise ApiError(400, INVALID_REQUEST, f"Unsupported scoreType {params.scoreType!r}; only PROBABILITY")
        mapping[name] = label
    return mapping


def _check_languages(model: LoadedModel, languages: list[str] | None, first_attribute: str) -> list[str]:
    supported = [lang.lower() for lang in model.bundle.manifest.languages]
    if not languages:
        return supported
    primary = [lang.strip().replace("_", "-").split("-")[0].lower() for lang in languages]
    unsupported = [orig for orig, lang in zip(languages, primary, strict=True) if lang not in supported]
    if unsupported:
        raise ApiError(
            400,
            LANGUAGE_NOT_SUPPORTED,
            f"Attribute {first_attribute} does not support request languages: {', '.join(unsupported)}",
            details={
                "languageNotSupportedByAttributeError": {
                    "detectedLanguages": unsupported,
                    "attribute": first_attribute,
                }
            },
        )
    return list(dict.fromkeys(primary))


def _attribute_scores(
    core: ModerationCore,
    outcome: ModerationOutcome,
    requested: dict[str, AttributeParameters],
    mapping: dict[str, str],
    text: str,
    span_annotations: bool,
) -> dict[str, Any]:
    """attributeScores for one comment; spans are explanation spans scored on their own text."""
    summary = outcome.score_dicts()[0]
    spans = outcome.spans[0] if (span_annotations and outcome.spans is not None) else []
    span_values: list[float] = []
    if spans:
        column = {label: i for i, label in enumerate(outcome.model.labels)}
        matrix = core.score_texts(outcome.model, [text[s.begin : s.end] for s in spans])
        span_values = [round(float(matrix[k, column[s.label]]), SCORE_DECIMALS) for k, s in enumerate(spans)]
    whole_text = not span_annotations or not outcome.model.explainer.available
    result: dict[str, Any] = {}
    for name, params in requested.items():
        label = mapping[name]
        value = summary[label]
        threshold = params.scoreThreshold
        entry: dict[str, Any] = {}
        if threshold is None or value >= threshold:
            entry["summaryScore"] = {"value": value, "type": SCORE_TYPE}
        if whole_text:
            span_list = [(0, len(text), value)]
        else:
            span_list = [(s.begin, s.end, v) for s, v in zip(spans, span_values, strict=True) if s.label == label]
        entry["spanScores"] = [
            {"begin": b, "end": e, "score": {"value": v, "type": SCORE_TYPE}}
            for b, e, v in span_list
            if threshold is None or v >= threshold
        ]
        result[name] = entry
    return result


EXAMPLE_REQUEST = {
    "comment": {"text": "you are a stupid idiot", "type": "PLAIN_TEXT"},
    "requestedAttributes": {"TOXICITY": {}, "INSULT": {"scoreThreshold": 0.5}},
    "spanAnnotations": True,
    "languages": ["en"],
    "doNotStore": True,
    "clientToken": "comment-123",
}
EXAMPLE_RESPONSE = {
    "attributeScores": {
        "TOXICITY": {
            "summaryScore": {"value": 0.93, "type": "PROBABILITY"},
            "spanScores": [{"begin": 10, "end": 22, "score": {"value": 0.88, "type": "PROBABILITY"}}],
        },
        "INSULT": {
            "summaryScore": {"value": 0.97, "type": "PROBABILITY"},
            "spanScores": [{"begin": 10, "end": 22, "score": {"value": 0.95, "type": "PROBABILITY"}}],
        },
    },
    "languages": ["en"],
    "clientToken": "comment-123",
}
REQUEST_EXAMPLES = {"analyze": {"summary": "Two attributes", "value": EXAMPLE_REQUEST}}
ERROR_EXAMPLE = {
    "error": {
        "code": 400,
        "message": "Comment must be non-empty.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": ERROR_TYPE, "errorType": "COMMENT_EMPTY"}],
    }
}


@router.post(
    "/v1alpha1/comments:analyze",
    response_model=AnalyzeResponse,
    response_model_exclude_none=True,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}},
        400: {
            "description": "COMMENT_EMPTY, COMMENT_TOO_LONG, NO_REQUESTED_ATTRIBUTES, "
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE or INVALID_REQUEST",
            "content": {"application/json": {"example": ERROR_EXAMPLE}},
        },
        401: {"description": "Missing or invalid key (`?key=` is accepted)"},
    },
    summary="Perspective-compatible AnalyzeComment",
)
async def analyze(
    body: Annotated[AnalyzeRequest, Body(openapi_examples=REQUEST_EXAMPLES)],
    core: CoreDep,
) -> Response:
    """Scores one comment for the requested attributes, like Perspective's AnalyzeComment."""
    comment = body.comment or Comment()
    text = comment.text or ""
    if comment.type not in (None, "PLAIN_TEXT"):
        raise ApiError(400, INVALID_REQUEST, f"Unsupported comment type {comment.type!r}; only PLAIN_TEXT")
    try:
        check_text(text, max_bytes=core.limits.max_text_bytes, field="comment.text")
    except InvalidInput as exc:
        message = {"text_empty": "Comment must be non-empty.", "text_too_long": "Comment text too long."}
        raise ApiError(400, exc.code, message.get(exc.code, exc.message)) from exc
    if not body.requestedAttributes:
        raise ApiError(400, NO_REQUESTED_ATTRIBUTES, "No requested attributes.")
    model = core.model()
    mapping = _labels_for(model, body.requestedAttributes)
    languages = _check_languages(model, body.languages, next(iter(mapping)))
    item = ModerationItem(id=body.clientToken or f"perspective-{uuid.uuid4().hex}", text=text)
    requested = body.requestedAttributes

    def render(outcome: ModerationOutcome) -> Response:
        payload: dict[str, Any] = {
            "attributeScores": _attribute_scores(core, outcome, requested, mapping, text, body.spanAnnotations),
            "languages": languages,
        }
        if body.clientToken is not None:
            payload["clientToken"] = body.clientToken
        return OrjsonResponse(payload, headers={"x-threadguard-model": f"{model.name}/{model.version}"})

    return await run_moderation(
        core,
        [item],
        render,
        labels=list(dict.fromkeys(mapping.values())),
        explain=body.spanAnnotations,
        store=not body.doNotStore,
        source="perspective",
        model=model,
    )
