"""Conversions of :class:`FlaggedItem`: to a JSON record (spill file) and back, and to database rows.

The JSON record is the spill file's line format, so it is versioned (``"v": 1``) and tolerant: unknown keys are
ignored when reading, and a line that cannot be parsed is reported instead of stopping a replay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.core.review_sink import FlaggedItem

RECORD_VERSION = 1


class RecordError(ValueError):
    """A spill-file line that is not a valid item record."""


def dedupe_key(item: FlaggedItem) -> str:
    """Identity of a queued item: the same comment (same id, same text) is queued once, however often seen."""
    digest = hashlib.sha256()
    digest.update(item.item_id.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(item.text.encode("utf-8"))
    return digest.hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_record(item: FlaggedItem) -> dict[str, Any]:
    """A JSON-serialisable dict holding everything the queue stores about ``item``."""
    return {
        "v": RECORD_VERSION,
        "item_id": item.item_id,
        "text": item.text,
        "scores": {label: float(score) for label, score in item.scores.items()},
        "decision": item.decision,
        "triggered": list(item.triggered),
        "model_name": item.model_name,
        "model_version": item.model_version,
        "source_client": item.source_client,
        "created_at": _aware(item.created_at).isoformat(),
        "thread_id": item.thread_id,
        "parent_id": item.parent_id,
        "author_id": item.author_id,
        "spans": [dict(span) for span in item.spans],
    }


def from_record(record: Mapping[str, Any]) -> FlaggedItem:
    """The item a :func:`to_record` dict describes; raises :class:`RecordError` on a malformed record."""
    try:
        if record.get("v") != RECORD_VERSION:
            raise RecordError(f"unsupported record version {record.get('v')!r}")
        return FlaggedItem(
            item_id=str(record["item_id"]),
            text=str(record["text"]),
            scores={str(k): float(v) for k, v in dict(record["scores"]).items()},
            decision=str(record["decision"]),
            triggered=tuple(str(label) for label in record.get("triggered") or ()),
            model_name=str(record["model_name"]),
            model_version=str(record["model_version"]),
            source_client=str(record["source_client"]),
            created_at=_aware(datetime.fromisoformat(str(record["created_at"]))),
            thread_id=_optional_str(record.get("thread_id")),
            parent_id=_optional_str(record.get("parent_id")),
            author_id=_optional_str(record.get("author_id")),
            spans=tuple(dict(span) for span in record.get("spans") or ()),
        )
    except RecordError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"malformed item record: {exc!r}") from exc


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _clip(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


def item_row(item: FlaggedItem) -> dict[str, Any]:
    """Column values of the ``review_items`` row for ``item`` (status pending)."""
    scores = {label: float(score) for label, score in item.scores.items()}
    return {
        "dedupe_key": dedupe_key(item),
        "item_id": item.item_id[:255],
        "thread_id": _clip(item.thread_id, 255),
        "parent_id": _clip(item.parent_id, 255),
        "author_id": _clip(item.author_id, 255),
        "text": item.text,
        "scores": scores,
        "triggered": list(item.triggered),
        "spans": _json_safe_spans(item.spans),
        "max_score": max(scores.values(), default=0.0),
        "decision": item.decision[:16],
        "model_name": item.model_name[:128],
        "model_version": item.model_version[:128],
        "source_client": item.source_client[:32],
        "created_at": _aware(item.created_at),
        "enqueued_at": datetime.now(UTC),
        "status": "pending",
    }


def label_rows(item: FlaggedItem) -> list[dict[str, Any]]:
    """``review_item_labels`` rows for ``item`` (without the item's primary key)."""
    triggered = set(item.triggered)
    return [
        {"label": label[:64], "score": float(score), "triggered": label in triggered}
        for label, score in item.scores.items()
    ]


def _json_safe_spans(spans: tuple[dict[str, object], ...]) -> list[dict[str, Any]]:
    safe: list[dict[str, Any]] = []
    for span in spans:
        safe.append({str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v)
                     for k, v in span.items()})
    return safe
