"""Console users and login sessions.

Sessions are server-side rows keyed by the sha256 of a random cookie token, so a stolen database dump does not
hold usable cookies, and logging out (or disabling a user) takes effect immediately. Each session carries its
own CSRF token, checked on every POST.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.review.models import Role, User, UserSession
from service.review.passwords import (
    DEFAULT_COST,
    ScryptCost,
    burn_time,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class AccountError(ValueError):
    """A user could not be created or changed (bad name, role or password, or a duplicate)."""


def create_user(
    db: Session,
    username: str,
    password: str,
    role: str,
    *,
    replace: bool = False,
    cost: ScryptCost = DEFAULT_COST,
) -> User:
    """Add a user, or with ``replace`` reset an existing user's password and role. Caller commits."""
    if not USERNAME_PATTERN.match(username):
        raise AccountError("username: 1-64 letters, digits or _ . @ -, starting with a letter or digit")
    try:
        role = Role(role).value
    except ValueError:
        raise AccountError(f"role must be one of {[r.value for r in Role]}") from None
    check_policy(password)
    existing = db.scalar(select(User).where(User.username == username))
    if existing is not None and not replace:
        raise AccountError(f"user {username!r} already exists (use --reset to change the password or role)")
    user = existing or User(username=username)
    user.password_hash = hash_password(password, cost)
    user.role = role
    user.disabled = False
    if existing is None:
        db.add(user)
    else:
        revoke_sessions(db, user)
    db.flush()
    return user


def authenticate(db: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None. Takes the same time for unknown users."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        burn_time(password)
        return None
    if not verify_password(password, user.password_hash):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(db: Session, user: User, ttl: timedelta) -> tuple[str, UserSession]:
    """A new session for ``user``; returns the cookie token (never stored) and the row. Caller commits."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = UserSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + ttl,
    )
    db.add(row)
    # opportunistic cleanup keeps the table small without a scheduler
    db.execute(delete(UserSession).where(UserSession.expires_at < now))
    db.flush()
    row.user = user
    return token, row


def load_session(db: Session, token: str | None) -> UserSession | None:
    """The live session for a cookie token: not expired, user not disabled."""
    if not token or len(token) > 128:
        return None
    row = db.get(UserSession, _token_hash(token))
    if row is None or row.expires_at <= datetime.now(UTC) or row.user.disabled:
        return None
    return row


def close_session(db: Session, token: str | None) -> None:
    if token and len(token) <= 128:
        db.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


def revoke_sessions(db: Session, user: User) -> None:
    db.execute(delete(UserSession).where(UserSession.user_id == user.id))
