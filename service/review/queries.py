"""Read side of the console: the filtered, sorted queue; neighbours for j/k; thread context; audit; stats."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.review.models import Action, AuditEntry, ItemLabel, ReviewItem

SortKey = Literal["score", "age"]
SortOrder = Literal["asc", "desc"]


@dataclass(frozen=True)
class QueueFilter:
    """What the queue list shows. ``age desc`` means oldest first (the longest-waiting items)."""

    label: str | None = None
    decision: str | None = None
    status: str | None = "pending"
    source: str | None = None
    sort: SortKey = "score"
    order: SortOrder = "desc"

    def query_params(self, **changes: Any) -> dict[str, str]:
        """URL query parameters for this filter (with ``changes`` applied), omitting empty values."""
        current = replace(self, **changes) if changes else self
        params = {
            "label": current.label or "",
            "decision": current.decision or "",
            "status": current.status if current.status is not None else "any",
            "source": current.source or "",
            "sort": current.sort,
            "order": current.order,
        }
        return {key: value for key, value in params.items() if value}


@dataclass
class Page:
    items: list[ReviewItem]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _sort_column(flt: QueueFilter) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    if flt.sort == "age":
        return ReviewItem.created_at
    return ItemLabel.score if flt.label else ReviewItem.max_score


def _descending(flt: QueueFilter) -> bool:
    """Whether the SQL order is descending (age is inverted: oldest first means created_at ascending)."""
    return (flt.order == "desc") if flt.sort == "score" else (flt.order == "asc")


def _filtered(flt: QueueFilter) -> Select[Any]:
    query = select(ReviewItem)
    if flt.label:
        query = query.join(
            ItemLabel, and_(ItemLabel.item_pk == ReviewItem.id, ItemLabel.label == flt.label, ItemLabel.triggered)
        )
    if flt.decision:
        query = query.where(ReviewItem.decision == flt.decision)
    if flt.status:
        query = query.where(ReviewItem.status == flt.status)
    if flt.source:
        query = query.where(ReviewItem.source_client == flt.source)
    return query


def _ordered(query: Select[Any], flt: QueueFilter, *, reverse: bool = False) -> Select[Any]:
    column = _sort_column(flt)
    descending = _descending(flt) != reverse
    if descending:
        return query.order_by(column.desc(), ReviewItem.id.desc())
    return query.order_by(column.asc(), ReviewItem.id.asc())


def list_queue(db: Session, flt: QueueFilter, page: int = 1, page_size: int = 50) -> Page:
    page = max(1, page)
    base = _filtered(flt)
    total = db.scalar(select(func.count()).select_from(base.with_only_columns(ReviewItem.id).subquery())) or 0
    rows = db.scalars(_ordered(base, flt).offset((page - 1) * page_size).limit(page_size)).unique().all()
    return Page(items=list(rows), total=total, page=page, page_size=page_size)


def neighbour(db: Session, flt: QueueFilter, item: ReviewItem, direction: Literal["next", "prev"]) -> int | None:
    """The id of the item after (or before) ``item`` in the queue order, whether or not ``item`` still matches."""
    column = _sort_column(flt)
    key: float | datetime | None
    if flt.label:
        key = db.scalar(
            select(ItemLabel.score).where(ItemLabel.item_pk == item.id, ItemLabel.label == flt.label)
        )
        if key is None:
            key = -1.0
    elif flt.sort == "age":
        key = item.created_at
    else:
        key = item.max_score
    forward_descending = _descending(flt)
    go_down = forward_descending if direction == "next" else not forward_descending
    if go_down:
        condition = or_(column < key, and_(column == key, ReviewItem.id < item.id))
    else:
        condition = or_(column > key, and_(column == key, ReviewItem.id > item.id))
    query = _ordered(_filtered(flt).where(condition), flt, reverse=direction == "prev")
    return db.scalar(query.with_only_columns(ReviewItem.id).limit(1))


@dataclass
class ThreadContext:
    """The stored comments around an item: ancestors (root first), siblings and direct replies."""

    ancestors: list[ReviewItem] = field(default_factory=list)
    missing_parent: str | None = None  # the first ancestor id we do not have
    siblings: list[ReviewItem] = field(default_factory=list)
    replies: list[ReviewItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.ancestors or self.siblings or self.replies or self.missing_parent)


def _same_thread(item: ReviewItem) -> ColumnElement[bool]:
    if item.thread_id is None:
        return and_(ReviewItem.thread_id.is_(None), ReviewItem.source_client == item.source_client)
    return ReviewItem.thread_id == item.thread_id


def thread_context(db: Session, item: ReviewItem, *, max_depth: int = 20, limit: int = 20) -> ThreadContext:
    """Only flagged comments are stored, so the context shows what the queue knows, and says what it lacks."""
    context = ThreadContext()
    seen = {item.item_id}
    parent_id = item.parent_id
    while parent_id and parent_id not in seen and len(context.ancestors) < max_depth:
        seen.add(parent_id)
        parent = db.scalars(
            select(ReviewItem).where(_same_thread(item), ReviewItem.item_id == parent_id)
            .order_by(ReviewItem.id.desc()).limit(1)
        ).first()
        if parent is None:
            context.missing_parent = parent_id
            break
        context.ancestors.insert(0, parent)
        parent_id = parent.parent_id
    if item.parent_id:
        context.siblings = list(db.scalars(
            select(ReviewItem).where(
                _same_thread(item), ReviewItem.parent_id == item.parent_id, ReviewItem.item_id != item.item_id
            ).order_by(ReviewItem.created_at).limit(limit)
        ).unique())
    context.replies = list(db.scalars(
        select(ReviewItem).where(_same_thread(item), ReviewItem.parent_id == item.item_id)
        .order_by(ReviewItem.created_at).limit(limit)
    ).unique())
    return context


def facet_values(db: Session) -> dict[str, list[str]]:
    """Distinct labels, decisions and sources for the filter drop-downs."""
    return {
        "label": list(
            db.scalars(select(ItemLabel.label).where(ItemLabel.triggered).distinct().order_by(ItemLabel.label))
        ),
        "decision": list(db.scalars(select(ReviewItem.decision).distinct().order_by(ReviewItem.decision))),
        "source": list(db.scalars(select(ReviewItem.source_client).distinct().order_by(ReviewItem.source_client))),
    }


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    item_pk: int | None = None


def list_audit(db: Session, flt: AuditFilter, page: int = 1, page_size: int = 100) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if flt.actor:
        query = query.where(AuditEntry.actor_name == flt.actor)
    if flt.action:
        query = query.where(AuditEntry.action == flt.action)
    if flt.item_pk is not None:
        query = query.where(AuditEntry.item_pk == flt.item_pk)
    total = db.scalar(select(func.count()).select_from(query.with_only_columns(AuditEntry.id).subquery())) or 0
    rows = db.scalars(query.order_by(AuditEntry.id.desc()).offset((max(1, page) - 1) * page_size).limit(page_size))
    return list(rows), total


@dataclass
class ReviewerStats:
    """One reviewer's decisions and how often they agreed with the model.

    Every queued item was flagged by the model, so *remove* agrees with it and *approve* overrules it;
    escalations are neither. Agreement is reported overall and separately for items the model would have
    blocked and items it only sent to review.
    """

    reviewer: str
    counts: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in Action})
    by_decision: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    last_action_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @staticmethod
    def _rate(removed: int, approved: int) -> float | None:
        return removed / (removed + approved) if removed + approved else None

    @property
    def agreement(self) -> float | None:
        return self._rate(self.counts[Action.REMOVE.value], self.counts[Action.APPROVE.value])

    def agreement_for(self, decision: str) -> float | None:
        counts = self.by_decision.get(decision, {})
        return self._rate(counts.get(Action.REMOVE.value, 0), counts.get(Action.APPROVE.value, 0))


def reviewer_stats(db: Session, since: datetime | None = None) -> list[ReviewerStats]:
    """Per-reviewer action counts and agreement with the model, from the audit log (every action counts)."""
    query = (
        select(AuditEntry.actor_name, AuditEntry.action, ReviewItem.decision, func.count(), func.max(AuditEntry.at))
        .join(ReviewItem, ReviewItem.id == AuditEntry.item_pk)
        .where(AuditEntry.action.in_([a.value for a in Action]))
        .group_by(AuditEntry.actor_name, AuditEntry.action, ReviewItem.decision)
    )
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    stats: dict[str, ReviewerStats] = {}
    for actor, action, decision, count, last_at in db.execute(query):
        entry = stats.setdefault(actor, ReviewerStats(reviewer=actor))
        entry.counts[action] += count
        entry.by_decision[decision][action] += count
        if last_at is not None:
            if isinstance(last_at, str):  # SQLite returns max() of a timestamp as text
                last_at = datetime.fromisoformat(last_at)
            if entry.last_action_at is None or last_at > entry.last_action_at:
                entry.last_action_at = last_at
    return sorted(stats.values(), key=lambda s: (-s.total, s.reviewer))
