"""Explanations: the character spans of a text that pushed each label's score up.

The default explainer reads the bundle's linear n-gram model back out of ``model.onnx``
(``threadguard.linear_model``) and asks ``threadguard.explain.explain_spans`` for spans. Both are imported
lazily: a bundle that is not an n-gram model, or a build without those modules, still serves scores, with
empty spans and ``explanations_available: false`` in the model info instead of an error.

Offsets are code-point offsets into the original text (Python ``str`` indices), so ``text[begin:end]`` is
the span for any Unicode text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from threadguard.bundle import ModelBundle

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Span:
    """One explanation span: ``text[begin:end]`` raised ``label`` by ``weight`` (logit units)."""

    label: str
    begin: int
    end: int
    weight: float

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "begin": self.begin, "end": self.end, "weight": self.weight}


class Explainer(Protocol):
    """Produces spans for one text; must not raise for valid text."""

    available: bool
    reason: str | None

    def explain(self, text: str, labels: Sequence[str], *, top_k: int) -> list[Span]: ...


ExplainerFactory = Callable[[ModelBundle], Explainer]


class UnavailableExplainer:
    """Used when the bundle cannot be explained: always returns no spans."""

    available = False

    def __init__(self, reason: str) -> None:
        self.reason: str | None = reason

    def explain(self, text: str, labels: Sequence[str], *, top_k: int) -> list[Span]:
        return []


class NgramExplainer:
    """Explains a threadguard linear n-gram bundle with ``threadguard.explain.explain_spans``."""

    available = True
    reason: str | None = None

    def __init__(self, model: Any, explain_spans: Callable[..., Sequence[Any]]) -> None:
        self._model = model
        self._explain_spans = explain_spans

    def explain(self, text: str, labels: Sequence[str], *, top_k: int) -> list[Span]:
        try:
            raw = self._explain_spans(self._model, text, list(labels), top_k=top_k)
        except Exception:  # an explanation must never fail a moderation request
            logger.exception("explain_spans failed; returning no spans")
            return []
        return sanitize_spans(raw, text, labels)


def ngram_explainer(bundle: ModelBundle) -> Explainer:
    """The default factory: :class:`NgramExplainer`, or :class:`UnavailableExplainer` with the reason."""
    try:
        from threadguard.explain import explain_spans
        from threadguard.linear_model import LinearNgramModel
    except ImportError as exc:
        logger.warning("explanations are not installed", extra={"reason": str(exc)})
        return UnavailableExplainer("explanations are not installed")
    try:
        model = LinearNgramModel.from_bundle(bundle)
    except Exception as exc:  # BundleError for non-n-gram bundles; anything else is logged too
        logger.warning("bundle cannot be explained", extra={"reason": str(exc)})
        return UnavailableExplainer("the bundle is not a threadguard n-gram model")  # no paths to clients
    return NgramExplainer(model, explain_spans)


def sanitize_spans(raw: Sequence[Any], text: str, labels: Sequence[str]) -> list[Span]:
    """Keep spans that lie inside ``text``, name a requested label and have a finite weight."""
    wanted = set(labels)
    length = len(text)
    spans: list[Span] = []
    for item in raw:
        try:
            label, begin, end, weight = str(item.label), int(item.begin), int(item.end), float(item.weight)
        except (AttributeError, TypeError, ValueError):
            continue
        if label in wanted and 0 <= begin < end <= length and weight == weight and abs(weight) != float("inf"):
            spans.append(Span(label, begin, end, weight))
    return spans
