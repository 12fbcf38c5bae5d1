"""Operations: liveness, readiness, Prometheus metrics, the served model and the active policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from service.api.routing import CoordinatorDep, CoreDep, OrjsonResponse, OrjsonRoute
from service.auth import require_api_key

router = APIRouter(tags=["operations"], route_class=OrjsonRoute)

MODEL_EXAMPLE = {
    "name": "threadguard-ngram",
    "version": "2024.06.01",
    "labels": ["toxicity", "insult"],
    "label_info": {
        "toxicity": {"description": "rude or disrespectful", "experimental": False},
        "insult": {"description": "insulting a person", "experimental": False},
    },
    "languages": ["en"],
    "created_at": "2024-06-01T10:00:00Z",
    "loaded_at": "2024-06-02T08:00:00Z",
    "explanations_available": True,
    "explanations_unavailable_reason": None,
}


@router.get(
    "/livez",
    summary="Liveness",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def livez() -> Response:
    """The process is up and serving HTTP."""
    return OrjsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "status": "ready",
                        "model": {"name": "threadguard-ngram", "version": "2024.06.01"},
                    }
                }
            }
        },
        503: {
            "description": "No model loaded",
            "content": {"application/json": {"example": {"status": "not_ready", "reason": "no model is loaded"}}},
        },
    },
)
async def readyz(core: CoreDep) -> Response:
    """Ready only while a model is loaded."""
    model = core.holder.current
    if model is None:
        return OrjsonResponse({"status": "not_ready", "reason": "no model is loaded"}, status_code=503)
    return OrjsonResponse({"status": "ready", "model": {"name": model.name, "version": model.version}})


METRICS_EXAMPLE = (
    "# HELP threadguard_http_requests_total HTTP requests by endpoint and status.\n"
    'threadguard_http_requests_total{endpoint="/v1/moderate",method="POST",status="200"} 42\n'
    'threadguard_model_info{name="threadguard-ngram",version="2024.06.01"} 1.0\n'
)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}}},
)
async def metrics(request: Request) -> Response:
    """Requests and latency per endpoint, items per label and decision, the model version."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


@router.get(
    "/v1/models",
    summary="The served model",
    dependencies=[Depends(require_api_key)],
    responses={
        200: {"content": {"application/json": {"example": {"models": [MODEL_EXAMPLE], "reload_generation": 3}}}}
    },
)
async def models(core: CoreDep, coordinator: CoordinatorDep) -> Response:
    """The model this worker serves (labels, languages, explanation support) and the reload generation."""
    model = core.model()
    return OrjsonResponse({"models": [model.info()], "reload_generation": coordinator.applied_generation})


@router.get(
    "/v1/policy",
    summary="The active policy",
    dependencies=[Depends(require_api_key)],
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "model": {"name": "threadguard-ngram", "version": "2024.06.01"},
                        "source": "/etc/threadguard/policy.toml",
                        "labels": {
                            "insult": {
                                "review": 0.6,
                                "block": 0.95,
                                "disabled": False,
                                "experimental": False,
                                "source": "policy",
                            }
                        },
                    }
                }
            }
        }
    },
)
async def policy(core: CoreDep) -> Response:
    """Per-label review/block thresholds, disabled labels and where each came from (manifest or file)."""
    model = core.model()
    payload: dict[str, Any] = {
        "model": {"name": model.name, "version": model.version},
        **model.policy.as_dict(),
    }
    return OrjsonResponse(payload)
