"""The reviewer console's pages and actions, mounted under ``/console``.

Pages are server-rendered; ``static/console.js`` adds keyboard shortcuts and submits actions with ``fetch``
(the same form endpoints, asking for JSON), and every page also works as plain HTML forms without scripts.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from service.review.accounts import authenticate, close_session, open_session
from service.review.actions import ActionError, ActionResult, apply_action, parse_request
from service.review.console.rendering import error_response, render, secure, wants_json
from service.review.console.security import (
    CONSOLE_PREFIX,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    ConsoleError,
    Ctx,
    Db,
    LoginRequired,
    Principal,
    Unavailable,
    User_,
    Writer,
    login_url,
    new_token,
    optional_principal,
    require_login_csrf,
    safe_next,
)
from service.review.models import ItemStatus, ReviewItem
from service.review.queries import (
    AuditFilter,
    QueueFilter,
    facet_values,
    list_audit,
    list_queue,
    neighbour,
    reviewer_stats,
    thread_context,
)

log = logging.getLogger(__name__)

STATUS_CHOICES = [s.value for s in ItemStatus]
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css)$")
_MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


class ConsoleRoute(APIRoute):
    """Renders console errors as pages (login redirect, 403, 503 when the database is away) and adds
    security headers to every console response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired as exc:
                if request.method == "GET" and not wants_json(request):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    response = RedirectResponse(login_url(target), status_code=303)
                else:
                    response = error_response(request, exc.status_code, exc.message)
            except ConsoleError as exc:
                response = error_response(request, exc.status_code, exc.message)
            except DBAPIError as exc:
                if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                    raise  # a bug, not an outage: let it surface as a 500
                log.warning("console: review database unavailable: %s", exc.__class__.__name__)
                error = Unavailable()
                response = error_response(request, error.status_code, error.message)
            return secure(response, cache=request.url.path.startswith(f"{CONSOLE_PREFIX}/static/"))

        return console_handler


router = APIRouter(prefix=CONSOLE_PREFIX, route_class=ConsoleRoute, include_in_schema=False)


# -- helpers ----------------------------------------------------------------------------------------------


def queue_filter(
    label: str = "", decision: str = "", status: str = "pending", source: str = "", sort: str = "score",
    order: str = "desc",
) -> QueueFilter:
    """A filter from (untrusted) query values; anything unknown falls back to the default."""
    sort_key: Literal["score", "age"] = "age" if sort == "age" else "score"
    sort_order: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"
    status_value: str | None = status if status in STATUS_CHOICES else (None if status == "any" else "pending")
    return QueueFilter(
        label=label[:64] or None, decision=decision[:16] or None, status=status_value, source=source[:32] or None,
        sort=sort_key, order=sort_order,
    )


QueueFilterDep = Annotated[QueueFilter, Depends(queue_filter)]


def filter_from_query_string(query: str) -> QueueFilter:
    allowed = {"label", "decision", "status", "source", "sort", "order"}
    values = {key: value for key, value in parse_qsl(query[:2000]) if key in allowed}
    return queue_filter(**values)


def queue_url(flt: QueueFilter, **extra: Any) -> str:
    params = {**flt.query_params(), **{k: str(v) for k, v in extra.items() if v is not None}}
    return f"{CONSOLE_PREFIX}/queue" + (f"?{urlencode(params)}" if params else "")


def item_url(item_pk: int, flt: QueueFilter, **extra: Any) -> str:
    params = {**flt.query_params(), **{k: str(v) for k, v in extra.items() if v is not None}}
    return f"{CONSOLE_PREFIX}/items/{item_pk}" + (f"?{urlencode(params)}" if params else "")


def _notice(done: str | None, n: int | None, skipped: int | None) -> str | None:
    past = {"approve": "Approved", "remove": "Removed", "escalate": "Escalated"}
    if done not in past:
        return None
    text = f"{past[done]} {n or 0} item{'s' if (n or 0) != 1 else ''}."
    if skipped:
        text += f" {skipped} skipped (already decided by someone else, or unchanged)."
    return text


def _set_session_cookie(response: Response, token: str, ctx: Ctx) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(ctx.session_ttl.total_seconds()), path=CONSOLE_PREFIX,
        httponly=True, samesite="lax", secure=ctx.settings.console_cookie_secure,
    )


def _action_payload(result: ActionResult) -> dict[str, Any]:
    return {
        "ok": True,
        "action": result.action.value,
        "status": result.action.resulting_status.value,
        "updated": result.updated,
        "skipped": {str(k): v for k, v in result.skipped.items()},
        "bulk_id": result.bulk_id,
    }


# -- login / logout ---------------------------------------------------------------------------------------


def _login_page(request: Request, ctx: Ctx, next_path: str, error: str | None, status_code: int) -> Response:
    token = new_token()
    response = render(request, "login.html", {"csrf_token": token, "next": safe_next(next_path), "error": error},
                      status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=CONSOLE_PREFIX, httponly=True,
                        samesite="strict", secure=ctx.settings.console_cookie_secure)
    return response


@router.get("/login")
def login_form(request: Request, ctx: Ctx, next: str = "") -> Response:
    return _login_page(request, ctx, next, None, 200)


@router.post("/login", dependencies=[Depends(require_login_csrf)])
def login(
    request: Request,
    ctx: Ctx,
    db: Db,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    client = request.client.host if request.client else "-"
    throttle_key = f"{username.lower()}|{client}"
    if ctx.throttle.blocked(throttle_key):
        return _login_page(request, ctx, next, "Too many failed attempts. Wait a few minutes.", 429)
    user = authenticate(db, username, password)
    if user is None:
        ctx.throttle.failed(throttle_key)
        db.rollback()
        return _login_page(request, ctx, next, "Wrong username or password.", 401)
    ctx.throttle.succeeded(throttle_key)
    close_session(db, request.cookies.get(SESSION_COOKIE))
    token, _ = open_session(db, user, ctx.session_ttl)
    db.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    _set_session_cookie(response, token, ctx)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=CONSOLE_PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, principal: Writer, db: Db) -> Response:
    close_session(db, request.cookies.get(SESSION_COOKIE))
    db.commit()
    response = RedirectResponse(login_url(), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PREFIX)
    return response


# -- queue and items --------------------------------------------------------------------------------------


@router.get("")
@router.get("/")
def console_root(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Response:
    return RedirectResponse(f"{CONSOLE_PREFIX}/queue" if principal else login_url(), status_code=303)


@router.get("/queue")
def queue_page(
    request: Request,
    principal: User_,
    db: Db,
    ctx: Ctx,
    flt: QueueFilterDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: str | None = None,
    n: Annotated[int | None, Query(ge=0)] = None,
    skipped: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    result = list_queue(db, flt, page=page, page_size=ctx.settings.console_page_size)
    return render(request, "queue.html", {
        "principal": principal,
        "page": result,
        "flt": flt,
        "facets": facet_values(db),
        "statuses": STATUS_CHOICES,
        "queue_url": queue_url,
        "item_url": item_url,
        "return_query": urlencode(flt.query_params()),
        "notice": _notice(done, n, skipped),
    })


def _get_item(db: Session, item_pk: int) -> ReviewItem:
    item = db.get(ReviewItem, item_pk)
    if item is None:
        raise ConsoleError(404, f"Item {item_pk} is not in the queue.")
    return item


@router.get("/items/{item_pk}")
def item_page(
    request: Request,
    item_pk: int,
    principal: User_,
    db: Db,
    flt: QueueFilterDep,
    done: str | None = None,
) -> Response:
    item = _get_item(db, item_pk)
    next_pk = neighbour(db, flt, item, "next")
    prev_pk = neighbour(db, flt, item, "prev")
    history = list_audit(db, AuditFilter(item_pk=item.id), page_size=50)[0] if principal.is_admin else []
    return render(request, "item.html", {
        "principal": principal,
        "item": item,
        "labels": sorted(item.scores.items(), key=lambda pair: -pair[1]),
        "context": thread_context(db, item),
        "flt": flt,
        "next_url": item_url(next_pk, flt) if next_pk else None,
        "prev_url": item_url(prev_pk, flt) if prev_pk else None,
        "back_url": queue_url(flt),
        "item_url": item_url,
        "return_query": urlencode(flt.query_params()),
        "history": history,
        "can_act": principal.is_admin or item.status == ItemStatus.PENDING.value,
        "notice": _notice(done, 1, None),
    })


@router.post("/items/{item_pk}/action")
def item_action(
    request: Request,
    item_pk: int,
    principal: Writer,
    db: Db,
    action: Annotated[str, Form(max_length=16)],
    reason_code: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    return_query: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        parsed_action, reason, cleaned_note = parse_request(action, reason_code, note)
    except ActionError as exc:
        raise ConsoleError(400, str(exc)) from None
    item = _get_item(db, item_pk)
    result = apply_action(db, principal.user, [item.id], parsed_action, reason, cleaned_note)
    db.commit()
    if not result.updated:
        why = result.skipped.get(item.id, "unchanged")
        raise ConsoleError(409, f"Item {item_pk} was not changed: {why}.")
    flt = filter_from_query_string(return_query)
    next_pk = neighbour(db, flt, item, "next")
    next_url = item_url(next_pk, flt) if next_pk else queue_url(flt)
    if wants_json(request):
        return JSONResponse({**_action_payload(result), "next_url": next_url})
    separator = "&" if "?" in next_url else "?"
    return RedirectResponse(f"{next_url}{separator}done={parsed_action.value}", status_code=303)


@router.post("/bulk")
def bulk_action(
    request: Request,
    principal: Writer,
    db: Db,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    reason_code: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    return_query: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        parsed_action, reason, cleaned_note = parse_request(action, reason_code, note)
        result = apply_action(db, principal.user, ids, parsed_action, reason, cleaned_note, bulk=True)
    except ActionError as exc:
        raise ConsoleError(400, str(exc)) from None
    db.commit()
    if wants_json(request):
        return JSONResponse(_action_payload(result))
    flt = filter_from_query_string(return_query)
    return RedirectResponse(
        queue_url(flt, done=parsed_action.value, n=len(result.updated), skipped=len(result.skipped) or None),
        status_code=303,
    )


# -- admin pages ------------------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    principal: Admin,
    db: Db,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    page_size = 100
    entries, total = list_audit(db, AuditFilter(actor=actor or None, action=action or None), page, page_size)
    return render(request, "audit.html", {
        "principal": principal,
        "entries": entries,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // page_size)),
        "actor": actor,
        "action": action,
        "item_url": item_url,
        "default_filter": QueueFilter(status=None),
    })


PERIODS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}


@router.get("/reviewers")
def reviewers_page(request: Request, principal: Admin, db: Db, period: str = "30d") -> Response:
    period = period if period in PERIODS else "30d"
    window = PERIODS[period]
    since = datetime.now(UTC) - window if window else None
    return render(request, "reviewers.html", {
        "principal": principal, "stats": reviewer_stats(db, since), "period": period, "periods": list(PERIODS),
    })


# -- static files -----------------------------------------------------------------------------------------


@cache
def _static(name: str) -> tuple[bytes, str] | None:
    resource = resources.files("service.review").joinpath("static", name)
    if not resource.is_file():
        return None
    data = resource.read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]


@router.get("/static/{name}")
def static_file(request: Request, name: str) -> Response:
    found = _static(name) if _STATIC_NAME.match(name) else None
    if found is None:
        raise ConsoleError(404, "No such file.")
    data, etag = found
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=_MEDIA_TYPES[name.rsplit(".", 1)[1]], headers=headers)
