"""Request-level security for the console: session lookup, roles, CSRF, and the errors they raise.

* Pages need a live session; without one, a GET is redirected to the login page and anything else gets 401.
* Admin-only pages give 403 to reviewers.
* Every POST must carry the session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``);
  the login form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import posixpath
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.review.accounts import load_session
from service.review.context import APP_STATE_KEY, ReviewContext
from service.review.models import User, UserSession

CONSOLE_PREFIX = "/console"
SESSION_COOKIE = "tg_session"
LOGIN_CSRF_COOKIE = "tg_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class ConsoleError(Exception):
    """An error the console renders as a page (or JSON for scripts) with an HTTP status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class LoginRequired(ConsoleError):
    def __init__(self) -> None:
        super().__init__(401, "Please log in.")


class Forbidden(ConsoleError):
    def __init__(self, message: str = "Your role does not allow this.") -> None:
        super().__init__(403, message)


class Unavailable(ConsoleError):
    def __init__(self) -> None:
        super().__init__(503, "The review database is not available right now. Moderation is unaffected; "
                              "queued items are kept and will appear once it is back.")


@dataclass
class Principal:
    """The logged-in user of this request and their session."""

    user: User
    session: UserSession

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


def get_context(request: Request) -> ReviewContext:
    context: ReviewContext = getattr(request.app.state, APP_STATE_KEY)
    return context


Ctx = Annotated[ReviewContext, Depends(get_context)]


def get_db(ctx: Ctx) -> Iterator[Session]:
    """A database session for this request; 503 until the schema has been migrated."""
    if not ctx.writer.ready.is_set():
        raise Unavailable()
    with ctx.sessions() as db:
        yield db


Db = Annotated[Session, Depends(get_db)]


def optional_principal(request: Request, db: Db) -> Principal | None:
    row = load_session(db, request.cookies.get(SESSION_COOKIE))
    return Principal(user=row.user, session=row) if row is not None else None


def require_user(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise LoginRequired()
    return principal


User_ = Annotated[Principal, Depends(require_user)]


def require_admin(principal: User_) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This page is for admins.")
    return principal


Admin = Annotated[Principal, Depends(require_admin)]


async def _submitted_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def require_csrf(request: Request, principal: User_) -> Principal:
    """The session's CSRF token must come with the request; otherwise 403."""
    if not tokens_match(await _submitted_token(request), principal.csrf_token):
        raise Forbidden("Missing or wrong CSRF token: reload the page and try again.")
    return principal


Writer = Annotated[Principal, Depends(require_csrf)]


async def require_login_csrf(request: Request) -> None:
    """Double-submit check for the login form (there is no session to hold a token yet)."""
    if not tokens_match(await _submitted_token(request), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise Forbidden("The login form expired: reload the page and try again.")


def tokens_match(submitted: str, expected: str) -> bool:
    return bool(submitted) and bool(expected) and hmac.compare_digest(submitted.encode(), expected.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def safe_next(target: str | None) -> str:
    """Only same-console relative paths are followed after login (no open redirects)."""
    default = f"{CONSOLE_PREFIX}/queue"
    if not target or not target.startswith(CONSOLE_PREFIX + "/") or "\\" in target:
        return default
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not posixpath.normpath(path).startswith(CONSOLE_PREFIX + "/") and posixpath.normpath(path) != CONSOLE_PREFIX:
        return default  # dot segments that climb out of the console
    if target.startswith(f"{CONSOLE_PREFIX}/login") or target.startswith(f"{CONSOLE_PREFIX}/logout"):
        return default
    return target


def login_url(next_path: str | None = None) -> str:
    query = f"?{urlencode({'next': next_path})}" if next_path else ""
    return f"{CONSOLE_PREFIX}/login{query}"
