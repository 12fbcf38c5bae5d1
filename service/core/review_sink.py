"""The seam between moderation and the review queue.

The moderation core hands every item the policy flagged (and the caller allowed us to store) to a
:class:`ReviewSink`. ``submit`` must never block the moderation response or raise: the queue implementation
buffers, writes in the background and spills to disk when the database is away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FlaggedItem:
    """One moderated comment the policy sent to review or block."""

    item_id: str
    text: str
    scores: dict[str, float]
    decision: str  # "review" | "block"
    triggered: tuple[str, ...]
    model_name: str
    model_version: str
    source_client: str  # which API adapter received it: "native", "threads", "perspective", "openai"
    created_at: datetime
    thread_id: str | None = None
    parent_id: str | None = None
    author_id: str | None = None
    spans: tuple[dict[str, object], ...] = field(default_factory=tuple)


class ReviewSink(Protocol):
    def submit(self, items: list[FlaggedItem]) -> None:
        """Accept items for the review queue without blocking; never raises."""


class NullReviewSink:
    """Used when the review queue is disabled: drops everything."""

    def submit(self, items: list[FlaggedItem]) -> None:
        return None
