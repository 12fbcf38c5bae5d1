"""Jinja2 environment of the console, its filters, and the security headers every console response carries."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.templating import Jinja2Templates

from service.review.highlight import segments
from service.review.models import Action, ReasonCode

# keyboard digit -> reason code, in the order the picker shows them
REASON_CHOICES: tuple[tuple[int, ReasonCode, str], ...] = (
    (1, ReasonCode.INSULT, "Insult"),
    (2, ReasonCode.HATE, "Hate / identity attack"),
    (3, ReasonCode.THREAT, "Threat"),
    (4, ReasonCode.PROFANITY, "Profanity"),
    (5, ReasonCode.SPAM, "Spam"),
    (6, ReasonCode.MISINFORMATION, "Misinformation (e.g. 'staged' claims)"),
    (7, ReasonCode.OTHER, "Other"),
)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'4 min ago' style ages for the queue."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def timestamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def excerpt(text: str, limit: int = 180) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _environment() -> Environment:
    directory = str(resources.files("service.review").joinpath("templates"))
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, timestamp=timestamp, score=score, excerpt=excerpt)
    env.globals.update(
        reason_choices=REASON_CHOICES,
        actions=[a.value for a in Action],
        segments=segments,
        now=lambda: datetime.now(UTC),
    )
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context.setdefault("principal", None)
    context.setdefault("notice", None)
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    return response


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def error_response(request: Request, status_code: int, message: str, principal: Any = None) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": False, "error": message}, status_code=status_code)
    return render(request, "error.html", {"status_code": status_code, "message": message, "principal": principal},
                  status_code=status_code)


def secure(response: Response, *, cache: bool = False) -> Response:
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    if not cache:
        response.headers.setdefault("Cache-Control", "no-store")
    return response
