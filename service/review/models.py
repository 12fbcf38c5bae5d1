"""Database tables of the review queue: queued items, their per-label scores, users, sessions and the audit log.

The schema itself is owned by the Alembic migrations in ``migrations/versions``; these classes must match them
(a test compares the migrated database with this metadata).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values; we reattach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(StrEnum):
    REVIEWER = "reviewer"
    ADMIN = "admin"


class ItemStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REMOVED = "removed"
    ESCALATED = "escalated"


class Action(StrEnum):
    APPROVE = "approve"
    REMOVE = "remove"
    ESCALATE = "escalate"

    @property
    def resulting_status(self) -> ItemStatus:
        return {
            Action.APPROVE: ItemStatus.APPROVED,
            Action.REMOVE: ItemStatus.REMOVED,
            Action.ESCALATE: ItemStatus.ESCALATED,
        }[self]


class ReasonCode(StrEnum):
    INSULT = "insult"
    HATE = "hate"
    THREAT = "threat"
    PROFANITY = "profanity"
    SPAM = "spam"
    MISINFORMATION = "misinformation"
    OTHER = "other"


class ReviewItem(Base):
    """One flagged comment waiting for, or having had, a human decision."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # sha256 of (item_id, text): the same comment flagged twice (or replayed from the spill file) is queued once
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[str] = mapped_column(String(255), index=True)
    thread_id: Mapped[str | None] = mapped_column(String(255), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(255))
    author_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    triggered: Mapped[list[str]] = mapped_column(JSON)
    spans: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    max_score: Mapped[float] = mapped_column(Float, index=True)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    source_client: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # when it was moderated
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when it reached the database
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.PENDING.value, index=True)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("review_users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    reviewed_by: Mapped[User | None] = relationship(lazy="joined")
    labels: Mapped[list[ItemLabel]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ItemLabel.score.desc()"
    )

    __table_args__ = (
        Index("ix_review_items_thread_parent", "thread_id", "parent_id"),
        Index("ix_review_items_status_max_score", "status", "max_score"),
    )


class ItemLabel(Base):
    """One label's score for one item, so the queue can filter and sort by label in plain SQL."""

    __tablename__ = "review_item_labels"

    item_pk: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    triggered: Mapped[bool] = mapped_column(Boolean, default=False)

    item: Mapped[ReviewItem] = relationship(back_populates="labels")

    __table_args__ = (Index("ix_review_item_labels_label_score", "label", "triggered", "score"),)


class User(Base):
    """A console user: a reviewer, or an admin who may also read the audit log and override decisions."""

    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


class UserSession(Base):
    """A server-side login session. The cookie holds a random token; only its sha256 is stored."""

    __tablename__ = "review_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("review_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship(lazy="joined")


class AuditEntry(Base):
    """Who did what to which item and when, with the item's reviewable state before and after."""

    __tablename__ = "review_audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_users.id", ondelete="SET NULL"), index=True
    )
    actor_name: Mapped[str] = mapped_column(String(64))  # kept even if the user row goes away
    action: Mapped[str] = mapped_column(String(32), index=True)
    item_pk: Mapped[int | None] = mapped_column(
        ForeignKey("review_items.id", ondelete="SET NULL"), index=True
    )
    bulk_id: Mapped[str | None] = mapped_column(String(32), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    item: Mapped[ReviewItem | None] = relationship()
