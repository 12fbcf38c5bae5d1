"""Split a comment into segments for highlighting the character spans that pushed label scores up.

Spans come from the explainer (``service.core.explain.Span.as_dict``) as dicts with ``begin`` and ``end``
(code-point offsets, end exclusive) and a ``label``; ``start`` is accepted for ``begin``. Other keys are
ignored, and spans that do not fit the text are dropped rather than trusted.
Overlapping spans are fine: each segment lists every label covering it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    labels: tuple[str, ...] = ()

    @property
    def highlighted(self) -> bool:
        return bool(self.labels)


def _bounds(span: Mapping[str, object], length: int) -> tuple[int, int, str] | None:
    start = span.get("begin", span.get("start"))
    end, label = span.get("end"), span.get("label")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        return None
    start, end = max(0, start), min(length, end)
    if start >= end:
        return None
    return start, end, str(label) if label is not None else "flagged"


def segments(text: str, spans: Iterable[Mapping[str, object]]) -> list[Segment]:
    """Consecutive segments covering ``text`` exactly once, each with the labels of the spans over it."""
    ranges = [bounds for span in spans if (bounds := _bounds(span, len(text))) is not None]
    if not ranges:
        return [Segment(text)] if text else []
    cuts = sorted({0, len(text), *(s for s, _, _ in ranges), *(e for _, e, _ in ranges)})
    result: list[Segment] = []
    for left, right in pairwise(cuts):
        labels = tuple(sorted({label for s, e, label in ranges if s <= left and right <= e}))
        if result and result[-1].labels == labels:
            result[-1] = Segment(result[-1].text + text[left:right], labels)
        else:
            result.append(Segment(text[left:right], labels))
    return result
