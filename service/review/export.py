"""Reviewer decisions as training data: JSONL rows the trainer's generic ``jsonl`` loader reads.

Each row has ``text``, one column per label with 1 (positive), 0 (negative) or null (unknown), and
provenance (``source_item_id``, ``reviewed_at``). How a decision becomes labels:

* **approve**: the model was wrong about every label it flagged, so each triggered label is 0. Labels it did
  not flag stay unknown (the reviewer was not asked about them).
* **remove** with reason code: the reason's label is 1; other labels stay unknown (one reason does not deny the
  rest). ``insult``, ``hate`` (-> identity_attack), ``threat``, ``profanity`` and ``other`` also set toxicity
  to 1. ``misinformation`` sets ``atrocity_denial`` and/or ``conspiracy`` to 1 only when the note carries the
  tag ``#atrocity_denial`` or ``#conspiracy``, and leaves toxicity unknown (false claims are not necessarily
  toxic). ``spam`` maps to no label column. A row whose labels are all unknown is not exported.
* **escalate** and pending items are not exported: nobody has decided yet.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.review.models import ItemStatus, ReasonCode, ReviewItem

LABEL_COLUMNS: tuple[str, ...] = (
    "toxicity",
    "insult",
    "identity_attack",
    "profanity",
    "threat",
    "severe_toxicity",
    "atrocity_denial",
    "conspiracy",
)

#: remove + reason code -> label columns set to 1
REASON_LABELS: dict[ReasonCode, tuple[str, ...]] = {
    ReasonCode.INSULT: ("insult", "toxicity"),
    ReasonCode.HATE: ("identity_attack", "toxicity"),
    ReasonCode.THREAT: ("threat", "toxicity"),
    ReasonCode.PROFANITY: ("profanity", "toxicity"),
    ReasonCode.OTHER: ("toxicity",),
    ReasonCode.MISINFORMATION: (),  # see NOTE_TAGS
    ReasonCode.SPAM: (),
}

#: tags a reviewer can write in the note of a ``misinformation`` removal to say which kind it was
NOTE_TAGS: dict[str, str] = {"atrocity_denial": "atrocity_denial", "conspiracy": "conspiracy"}
_TAG_PATTERN = re.compile(r"#([a-z_]+)")

Labels = dict[str, int | None]


def labels_for(item: ReviewItem) -> Labels | None:
    """The label columns a reviewed item contributes, or None when it contributes nothing."""
    labels: Labels = dict.fromkeys(LABEL_COLUMNS)
    if item.status == ItemStatus.APPROVED.value:
        for label in item.triggered:
            if label in labels:
                labels[label] = 0
    elif item.status == ItemStatus.REMOVED.value and item.reason_code:
        try:
            reason = ReasonCode(item.reason_code)
        except ValueError:
            return None
        for label in REASON_LABELS[reason]:
            labels[label] = 1
        if reason is ReasonCode.MISINFORMATION:
            for tag in _TAG_PATTERN.findall((item.note or "").lower()):
                if tag in NOTE_TAGS:
                    labels[NOTE_TAGS[tag]] = 1
    else:
        return None
    if all(value is None for value in labels.values()):
        return None
    return labels


def export_row(item: ReviewItem) -> dict[str, Any] | None:
    labels = labels_for(item)
    if labels is None:
        return None
    return {
        "text": item.text,
        **labels,
        "source_item_id": item.item_id,
        "reviewed_at": item.reviewed_at.isoformat() if item.reviewed_at else None,
    }


@dataclass
class ExportSummary:
    rows: int = 0
    skipped: int = 0


def iter_rows(db: Session, since: datetime | None = None, batch: int = 1000) -> Iterator[dict[str, Any] | None]:
    """Export rows (None for a reviewed item that yields no labels), oldest decision first."""
    query = (
        select(ReviewItem)
        .where(ReviewItem.status.in_([ItemStatus.APPROVED.value, ItemStatus.REMOVED.value]))
        .order_by(ReviewItem.reviewed_at, ReviewItem.id)
        .execution_options(yield_per=batch)
    )
    if since is not None:
        query = query.where(ReviewItem.reviewed_at >= since)
    for item in db.scalars(query):
        yield export_row(item)


def write_rows(rows: Iterator[dict[str, Any] | None], out: IO[bytes]) -> ExportSummary:
    summary = ExportSummary()
    for row in rows:
        if row is None:
            summary.skipped += 1
            continue
        out.write(orjson.dumps(row) + b"\n")
        summary.rows += 1
    return summary


def export_labels(db: Session, path: Path, since: datetime | None = None) -> ExportSummary:
    """Write the export to ``path`` atomically (a reader never sees a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            summary = write_rows(iter_rows(db, since), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return summary
