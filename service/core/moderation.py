"""The moderation core: score a batch, apply the policy, explain, hand flagged items to the review sink.

All three HTTP APIs (native, Perspective-compatible, OpenAI-compatible) call :meth:`ModerationCore.moderate`
and only translate its :class:`ModerationOutcome`; nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from service.core.errors import InvalidInput
from service.core.explain import Span
from service.core.model_holder import LoadedModel, ModelHolder
from service.core.policy import DECISIONS, SMALL_BATCH, Decisions
from service.core.review_sink import FlaggedItem, NullReviewSink, ReviewSink
from service.core.text import check_text
from service.core.threads import ThreadTree, build_thread, decision_counts, escalation, heat, hottest_chain

logger = logging.getLogger(__name__)

SCORE_DECIMALS = 6  # float32 scores carry ~7 significant digits; more would only be noise in the JSON
_SCORE_SCALE = 10.0**SCORE_DECIMALS


@dataclass(frozen=True, slots=True)
class ModerationItem:
    """One comment to moderate."""

    id: str
    text: str
    parent_id: str | None = None
    thread_id: str | None = None
    author_id: str | None = None


@dataclass(frozen=True)
class Limits:
    """Request limits enforced by the core (defaults documented in docs/api.md)."""

    max_items: int = 256
    max_text_bytes: int = 20_480
    max_thread_comments: int = 10_000
    max_labels: int = 64
    explain_top_k: int = 5


@dataclass(frozen=True)
class ModerationOutcome:
    """Scores, decisions and (optionally) spans for a batch, all from one model."""

    model: LoadedModel
    items: Sequence[ModerationItem]
    labels: tuple[str, ...]  # the columns of ``scores``, in output order
    scores: np.ndarray  # float32 [N, len(labels)]
    decisions: Decisions
    spans: list[list[Span]] | None  # per item when explain was requested
    all_scores: np.ndarray  # float32 [N, L]: every model label, in model order

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.model.name,
            "version": self.model.version,
            "explanations_available": self.model.explainer.available,
        }

    def decision(self, i: int) -> str:
        return DECISIONS[self.decisions.decision_list[i]]

    def triggered(self, i: int) -> list[str]:
        labels = self.labels
        return [labels[j] for j in self.decisions.triggered_columns(i)]

    @property
    def public_scores(self) -> np.ndarray:
        """``scores`` as float64 rounded to :data:`SCORE_DECIMALS` (decisions use the unrounded values)."""
        return np.round(self.scores.astype(np.float64), SCORE_DECIMALS)

    def score_dicts(self) -> list[dict[str, float]]:
        """Per item, label -> public score (the values of :attr:`public_scores`)."""
        labels = self.labels
        return [dict(zip(labels, row, strict=True)) for row in rounded_rows(self.scores)]


def rounded_rows(scores: np.ndarray) -> list[list[float]]:
    """``np.round(scores.astype(np.float64), SCORE_DECIMALS).tolist()``, small matrices without numpy calls.

    Python's ``round(x, 6)`` rounds the decimal value and can differ from numpy in the last digit, so the small
    path repeats numpy's own steps (multiply by 10**6, round half to even, divide: exact IEEE operations with
    the same results) and keeps numpy's sign of zero. Non-finite scores take numpy's path.
    """
    if len(scores) <= SMALL_BATCH:
        try:
            return [[_round_score(x) for x in row] for row in scores.tolist()]
        except (ValueError, OverflowError):  # nan or inf: numpy rounds them to themselves
            pass
    rounded: list[list[float]] = np.round(scores.astype(np.float64), SCORE_DECIMALS).tolist()
    return rounded


def _round_score(x: float) -> float:
    """One score as ``np.round`` rounds it (``round(y)`` is numpy's ``rint``: half to even)."""
    return round(x * _SCORE_SCALE) / _SCORE_SCALE or math.copysign(0.0, x)


@dataclass(frozen=True)
class ThreadOutcome:
    """A moderated thread: per-comment outcome plus the thread summary."""

    outcome: ModerationOutcome
    tree: ThreadTree
    summary: dict[str, Any]


OutcomeObserver = Callable[[str, ModerationOutcome], None]


class ModerationCore:
    """Load-independent moderation logic over whatever model the holder currently serves."""

    def __init__(
        self,
        holder: ModelHolder,
        *,
        sink: ReviewSink | None = None,
        limits: Limits | None = None,
        observer: OutcomeObserver | None = None,
        coalesce: bool = True,
        freeze_heap: bool = True,
    ) -> None:
        self.holder = holder
        self.sink: ReviewSink = sink or NullReviewSink()
        self.limits = limits or Limits()
        self._observer = observer
        self.coalescer: ScoreCoalescer | None = ScoreCoalescer() if coalesce else None
        if freeze_heap:
            holder.add_listener(freeze_heap_after_load)

    def model(self) -> LoadedModel:
        """The current model (ModelNotReady when none). Read once per request."""
        return self.holder.require()

    def moderate(
        self,
        items: Sequence[ModerationItem],
        *,
        labels: Sequence[str] | None = None,
        explain: bool = False,
        store: bool = True,
        source: str = "native",
        allow_empty_text: bool = False,
        max_items: int | None = None,
        model: LoadedModel | None = None,
        field: str = "items",
    ) -> ModerationOutcome:
        """Validate, score, decide, explain and submit flagged items to the review sink.

        ``model`` pins the model (adapters that already read it); ``field`` names the items in errors.
        """
        model, selected, index = self._prepare(items, labels, allow_empty_text, max_items, model, field)
        all_scores = model.scorer.score([item.text for item in items])
        return self._finish(model, items, selected, index, all_scores, explain, store, source)

    async def moderate_async(
        self,
        items: Sequence[ModerationItem],
        *,
        labels: Sequence[str] | None = None,
        explain: bool = False,
        store: bool = True,
        source: str = "native",
        allow_empty_text: bool = False,
        max_items: int | None = None,
        model: LoadedModel | None = None,
        field: str = "items",
    ) -> ModerationOutcome:
        """:meth:`moderate` for small requests, run on the event loop; the scoring is coalesced.

        Concurrent calls that reach this point in the same event-loop iteration are scored in one ONNX run
        (:class:`ScoreCoalescer`); a call alone is scored at once, so nothing ever waits for company. Meant for
        requests that are cheap to score (a few comments); big ones belong in a worker thread.
        """
        model, selected, index = self._prepare(items, labels, allow_empty_text, max_items, model, field)
        texts = [item.text for item in items]
        if self.coalescer is not None:
            all_scores = await self.coalescer.score(model, texts)
        else:
            all_scores = model.scorer.score(texts)
        return self._finish(model, items, selected, index, all_scores, explain, store, source)

    def _prepare(
        self,
        items: Sequence[ModerationItem],
        labels: Sequence[str] | None,
        allow_empty_text: bool,
        max_items: int | None,
        model: LoadedModel | None,
        field: str,
    ) -> tuple[LoadedModel, tuple[str, ...], np.ndarray | None]:
        """Validate the request; the model to use, the selected labels and their columns (None: all)."""
        limit = self.limits.max_items if max_items is None else max_items
        if not items:
            raise InvalidInput("no items to moderate", code="items_empty")
        if len(items) > limit:
            raise InvalidInput(f"{len(items)} items; the limit is {limit}", code="too_many_items")
        if len(items) > 1 and len({item.id for item in items}) != len(items):
            dupes = sorted(key for key, n in Counter(item.id for item in items).items() if n > 1)
            raise InvalidInput(f"duplicate ids in {field}: {dupes[:20]}", code="duplicate_id", field=field)
        max_bytes = self.limits.max_text_bytes
        for i, item in enumerate(items):
            check_text(item.text, max_bytes=max_bytes, allow_empty=allow_empty_text, field=f"{field}[{i}].text")
        model = model or self.model()
        selected, index = self.select_labels(model, labels)
        return model, selected, index

    def _finish(
        self,
        model: LoadedModel,
        items: Sequence[ModerationItem],
        selected: tuple[str, ...],
        index: np.ndarray | None,
        all_scores: np.ndarray,
        explain: bool,
        store: bool,
        source: str,
    ) -> ModerationOutcome:
        """Decide, explain, hand flagged items to the review sink and tell the observer."""
        scores = all_scores if index is None else all_scores[:, index]
        decisions = model.policy.decide(scores, index)
        spans = self._explain(model, items, selected) if explain else None
        outcome = ModerationOutcome(model, items, selected, scores, decisions, spans, all_scores)
        if store:
            self._submit(outcome, source)
        if self._observer is not None:
            try:
                self._observer(source, outcome)
            except Exception:  # metrics must never fail a moderation response
                logger.exception("outcome observer failed")
        return outcome

    def moderate_thread(
        self,
        items: Sequence[ModerationItem],
        *,
        labels: Sequence[str] | None = None,
        explain: bool = False,
        store: bool = True,
        source: str = "threads",
    ) -> ThreadOutcome:
        """Validate the reply tree, moderate every comment and summarise the thread."""
        limit = self.limits.max_thread_comments
        if len(items) > limit:
            raise InvalidInput(f"{len(items)} comments; the limit is {limit} per thread", code="too_many_items")
        tree = build_thread([item.id for item in items], [item.parent_id for item in items])
        outcome = self.moderate(
            items, labels=labels, explain=explain, store=store, source=source, max_items=limit, field="comments"
        )
        # heat is the model's toxicity whenever it has that label, whichever labels the caller selected
        heat_values = heat(outcome.all_scores, outcome.model.labels)
        summary = {
            "comments": len(items),
            "counts": decision_counts(outcome.labels, outcome.decisions.levels, outcome.decisions.decision),
            "most_heated_chain": hottest_chain(tree, heat_values),
            "escalation": escalation(tree, heat_values),
            "max_depth": int(tree.depth.max()) if len(items) else 0,
        }
        return ThreadOutcome(outcome=outcome, tree=tree, summary=summary)

    def select_labels(
        self, model: LoadedModel, labels: Sequence[str] | None
    ) -> tuple[tuple[str, ...], np.ndarray | None]:
        """The requested labels and their column indices; default all, in model order, with None for indices
        (the score matrix as it is, no column copy)."""
        if labels is None:
            return model.labels, None
        if len(labels) > self.limits.max_labels:
            raise InvalidInput(
                f"{len(labels)} labels requested; the limit is {self.limits.max_labels}",
                code="too_many_labels",
            )
        unknown = [label for label in labels if label not in model.label_index]
        if unknown:
            raise InvalidInput(
                f"unknown labels {unknown}; the model has {list(model.labels)}",
                code="unknown_label",
                field="labels",
            )
        if not labels:
            raise InvalidInput("labels must not be empty when given", code="labels_empty", field="labels")
        selected = tuple(dict.fromkeys(labels))  # de-duplicate, keep order
        return selected, np.array([model.label_index[label] for label in selected], dtype=np.int64)

    def score_texts(self, model: LoadedModel, texts: Sequence[str]) -> np.ndarray:
        """Raw ``[N, L]`` model scores for already-validated texts (e.g. explanation spans)."""
        return model.scorer.score(texts)

    def _explain(self, model: LoadedModel, items: Sequence[ModerationItem], labels: Sequence[str]) -> list[list[Span]]:
        top_k = self.limits.explain_top_k
        return [model.explainer.explain(item.text, labels, top_k=top_k) for item in items]

    def _submit(self, outcome: ModerationOutcome, source: str) -> None:
        if isinstance(self.sink, NullReviewSink):
            return  # the review queue is off: do not build items only to drop them
        flagged_rows = [i for i, level in enumerate(outcome.decisions.decision_list) if level]
        if not flagged_rows:
            return
        try:
            now = datetime.now(UTC)
            scores = outcome.score_dicts()
            flagged: list[FlaggedItem] = []
            for i in flagged_rows:
                item = outcome.items[i]
                spans = outcome.spans[i] if outcome.spans is not None else []
                flagged.append(
                    FlaggedItem(
                        item_id=item.id,
                        text=item.text,
                        scores=scores[i],
                        decision=outcome.decision(i),
                        triggered=tuple(outcome.triggered(i)),
                        model_name=outcome.model.name,
                        model_version=outcome.model.version,
                        source_client=source,
                        created_at=now,
                        thread_id=item.thread_id,
                        parent_id=item.parent_id,
                        author_id=item.author_id,
                        spans=tuple(span.as_dict() for span in spans),
                    )
                )
            self.sink.submit(flagged)
        except Exception:  # the review queue must never fail a moderation response
            logger.exception("review sink failed; moderation result unaffected")


def freeze_heap_after_load(old: LoadedModel | None, new: LoadedModel) -> None:
    """After a model (re)load, collect once and move every live object to the garbage collector's permanent
    generation (``gc.freeze``).

    The service's long-lived objects (the app, schemas, the model and its explainer: ~70,000 objects) would
    otherwise be traversed by every full collection, which Python runs every few thousand requests and which
    then stalls the event loop for 50-100 ms on a small machine: that alone put requests in the p99 tail.
    Frozen objects are still freed by reference counting when a reload drops them.
    """
    gc.collect()
    gc.freeze()


_Pending = tuple[LoadedModel, Sequence[str], "asyncio.Future[np.ndarray]"]


class ScoreCoalescer:
    """Opportunistic micro-batching: score the texts of concurrent requests in one ONNX run.

    :meth:`score` queues its texts and schedules one flush with ``loop.call_soon``; every request that reaches
    :meth:`score` before the flush runs (those already in the event loop's ready queue, e.g. all requests read
    in the same loop iteration) joins that run. There is no timer: a request that arrives alone is scored
    immediately, so coalescing never adds latency when the service is idle, and batches grow by themselves
    when it is busy. Runs on the event loop thread; meant for small requests only.
    """

    def __init__(self, max_texts: int = 64) -> None:
        self.max_texts = max_texts
        # per event loop (one per worker process in production; tests may run several): a run's futures must
        # all belong to the loop that resolves them
        self._pending: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self.runs = 0  # ONNX runs made and texts scored (what coalescing saved: texts - runs)
        self.texts = 0

    async def score(self, model: LoadedModel, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        queue = self._pending.get(loop)
        if queue is None:  # the first request since the last flush on this loop schedules the next one
            queue = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        queue.append((model, texts, future))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending.pop(loop, [])
        while pending:
            model = pending[0][0]
            group: list[_Pending] = []
            rest: list[_Pending] = []
            n = 0
            for entry in pending:  # same model (a reload may be in between), up to max_texts per run
                if entry[0] is model and (n == 0 or n + len(entry[1]) <= self.max_texts):
                    group.append(entry)
                    n += len(entry[1])
                else:
                    rest.append(entry)
            pending = rest
            self._run(model, group)

    def _run(self, model: LoadedModel, group: list[_Pending]) -> None:
        texts = [text for _, entry_texts, _ in group for text in entry_texts]
        try:
            scores = model.scorer.score(texts)
        except BaseException as exc:
            for _, _, future in group:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.runs += 1
        self.texts += len(texts)
        start = 0
        for _, entry_texts, future in group:
            stop = start + len(entry_texts)
            if not future.done():  # the request may have been cancelled (client gone)
                future.set_result(scores[start:stop])
            start = stop
