"""Admin: ``POST /v1/admin/reload`` (admin key): load a bundle, validate it, swap it in on every worker."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.routing import CoordinatorDep, OrjsonResponse, OrjsonRoute
from service.auth import require_admin_key

router = APIRouter(tags=["admin"], route_class=OrjsonRoute, dependencies=[Depends(require_admin_key)])


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None,
        description="Bundle directory (or model directory with a `current` pointer) on the server. "
        "Default: the configured model, re-reading its `current` pointer.",
    )


RESPONSE_EXAMPLE = {
    "model": {"name": "threadguard-ngram", "version": "2024.06.02"},
    "previous": {"name": "threadguard-ngram", "version": "2024.06.01"},
    "reload_generation": 4,
}
REQUEST_EXAMPLES = {
    "configured": {"summary": "Re-read the configured model's current pointer", "value": {}},
    "explicit": {"summary": "A specific bundle", "value": {"model": "/models/threadguard-ngram/2024.06.02"}},
}
REJECTED_EXAMPLE = {
    "error": {
        "code": "model_rejected",
        "message": "bundle rejected: ... sha256 ... does not match",
        "request_id": "...",
    }
}


@router.post(
    "/v1/admin/reload",
    summary="Reload the model",
    responses={
        200: {"content": {"application/json": {"example": RESPONSE_EXAMPLE}}},
        401: {"description": "Admin key missing"},
        403: {"description": "Key is not an admin key"},
        422: {
            "description": "Bundle rejected; the previous model keeps serving",
            "content": {"application/json": {"example": REJECTED_EXAMPLE}},
        },
    },
)
async def reload(
    coordinator: CoordinatorDep,
    body: Annotated[ReloadRequest | None, Body(openapi_examples=REQUEST_EXAMPLES)] = None,
) -> Response:
    """Loads and probes the bundle off the event loop, swaps atomically, then tells the other workers.

    Requests in flight finish on the old model. A broken bundle is rejected (422) and the old one keeps
    serving on every worker.
    """
    previous = coordinator.holder.current
    target = body.model if body is not None else None
    model = await anyio.to_thread.run_sync(lambda: coordinator.reload(target, origin="admin"))
    return OrjsonResponse(
        {
            "model": {"name": model.name, "version": model.version},
            "previous": {"name": previous.name, "version": previous.version} if previous else None,
            "reload_generation": coordinator.applied_generation,
        }
    )
