"""Reviewer decisions on queued items, each one recorded in the audit log with the state before and after.

Rules: approve needs no reason; remove and escalate need a reason code. Reviewers decide pending items only;
admins may also overrule a decision already taken (including resolving escalations). Rows are locked while
they change (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so two reviewers acting on
the same item at once cannot both win: the second is told the item was already decided.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.review.models import Action, AuditEntry, ItemStatus, ReasonCode, ReviewItem, User

MAX_NOTE_LENGTH = 2000
MAX_BULK = 500


class ActionError(ValueError):
    """The request itself is invalid (missing reason, too many items...)."""


@dataclass
class ActionResult:
    """What happened to each requested item."""

    action: Action
    updated: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # item pk -> why
    bulk_id: str | None = None


def snapshot(item: ReviewItem) -> dict[str, Any]:
    """The reviewable state of an item, as stored in the audit log."""
    return {
        "status": item.status,
        "reason_code": item.reason_code,
        "note": item.note,
        "reviewed_by": item.reviewed_by.username if item.reviewed_by else None,
        "reviewed_at": item.reviewed_at.isoformat() if item.reviewed_at else None,
    }


def parse_request(action: str, reason: str | None, note: str | None) -> tuple[Action, ReasonCode | None, str | None]:
    """Validate raw form values into an action, an optional reason code and a cleaned note."""
    try:
        parsed_action = Action(action)
    except ValueError:
        raise ActionError(f"unknown action {action!r}") from None
    parsed_reason: ReasonCode | None = None
    if reason:
        try:
            parsed_reason = ReasonCode(reason)
        except ValueError:
            raise ActionError(f"unknown reason code {reason!r}") from None
    if parsed_action in (Action.REMOVE, Action.ESCALATE) and parsed_reason is None:
        raise ActionError(f"{parsed_action.value} needs a reason code")
    cleaned = (note or "").strip() or None
    if cleaned is not None and len(cleaned) > MAX_NOTE_LENGTH:
        raise ActionError(f"note is longer than {MAX_NOTE_LENGTH} characters")
    return parsed_action, parsed_reason, cleaned


def apply_action(
    db: Session,
    actor: User,
    item_ids: Sequence[int],
    action: Action,
    reason: ReasonCode | None,
    note: str | None,
    *,
    bulk: bool = False,
) -> ActionResult:
    """Apply one decision to the given items and audit each change. Caller commits."""
    unique_ids = list(dict.fromkeys(item_ids))
    if not unique_ids:
        raise ActionError("no items selected")
    if len(unique_ids) > MAX_BULK:
        raise ActionError(f"at most {MAX_BULK} items per action")
    result = ActionResult(action=action, bulk_id=secrets.token_hex(8) if bulk else None)
    items = db.scalars(
        select(ReviewItem).where(ReviewItem.id.in_(unique_ids)).order_by(ReviewItem.id).with_for_update(of=ReviewItem)
    ).unique().all()
    by_id = {item.id: item for item in items}
    now = datetime.now(UTC)
    new_status = action.resulting_status.value
    reason_value = reason.value if reason else None
    for item_id in unique_ids:
        item = by_id.get(item_id)
        if item is None:
            result.skipped[item_id] = "not found"
            continue
        if item.status != ItemStatus.PENDING.value and not actor.is_admin:
            result.skipped[item_id] = f"already {item.status}"
            continue
        if (item.status, item.reason_code, item.note) == (new_status, reason_value, note):
            result.skipped[item_id] = "no change"
            continue
        before = snapshot(item)
        item.status = new_status
        item.reason_code = reason_value
        item.note = note
        item.reviewed_by = actor
        item.reviewed_by_id = actor.id
        item.reviewed_at = now
        db.add(
            AuditEntry(
                at=now,
                actor_id=actor.id,
                actor_name=actor.username,
                action=action.value,
                item_pk=item.id,
                bulk_id=result.bulk_id,
                before=before,
                after=snapshot(item),
            )
        )
        result.updated.append(item_id)
    db.flush()
    return result


def audit_system_event(db: Session, actor_name: str, action: str, details: dict[str, Any]) -> None:
    """Record an event that is not about an item (user created, password reset)."""
    db.add(AuditEntry(actor_name=actor_name[:64], action=action[:32], after=details, at=datetime.now(UTC)))
