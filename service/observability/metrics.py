"""Prometheus metrics: requests and latency per endpoint, items per label and decision, model version.

Each app owns a :class:`Metrics` with its own registry (no globals, so tests can build many apps). With
``--workers N`` every process writes to ``PROMETHEUS_MULTIPROC_DIR`` (set by ``threadguard serve`` before
the workers start) and ``/metrics`` aggregates all workers through prometheus_client's multiprocess
collector, whichever worker answers the scrape.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from service.core.policy import DECISIONS, SMALL_BATCH

if TYPE_CHECKING:
    from service.core.model_holder import LoadedModel
    from service.core.moderation import ModerationOutcome

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

OUTCOME_FLUSH_SECONDS = 0.1
"""Outcome counts observed on the event loop reach the counters this long after the first of them, at most.

An increment costs ~2 us with several workers (a lock and a write to the mmap file) and a single comment makes
nine, so the counts of all requests in the interval are added together: a few flushes per second under load
instead of nine increments per request. A scrape of this worker flushes first; another worker's counts show up
within the interval, far below any scrape interval.
"""

_Outcome = tuple[str, tuple[str, ...], int, tuple[int, ...]]  # (api, labels, decision, level per label)


class Metrics:
    """The service's metric families and the hooks that update them."""

    def __init__(self) -> None:
        # no *_created series: they double the exposition size and dashboards do not use them (process-wide)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        reg = self.registry
        self.requests = Counter(
            "threadguard_http_requests",
            "HTTP requests by endpoint and status.",
            ["endpoint", "method", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "threadguard_http_request_duration_seconds",
            "Request latency by endpoint (server side).",
            ["endpoint", "method"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.items = Counter(
            "threadguard_items",
            "Moderated items by API and overall decision.",
            ["api", "decision"],
            registry=reg,
        )
        self.label_decisions = Counter(
            "threadguard_label_decisions",
            "Moderated items by label and that label's own decision level.",
            ["label", "decision"],
            registry=reg,
        )
        self.model_info = Gauge(
            "threadguard_model_info",
            "The model being served (value 1).",
            ["name", "version"],
            registry=reg,
            multiprocess_mode="liveall",
        )
        self.reloads = Counter(
            "threadguard_model_reloads",
            "Model (re)loads by result.",
            ["result"],
            registry=reg,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # outcome counts observed on the event loop, added to the counters by the next flush
        self._pending: dict[Any, int] = {}  # counter child -> count
        # small batches: (api, labels, decision, level per label) -> items with that outcome
        self._pending_outcomes: dict[_Outcome, int] = {}
        self._flush_loop: asyncio.AbstractEventLoop | None = None  # the loop a flush is scheduled on
        # per family: (label value, decision level) -> child
        self._children: dict[int, dict[tuple[str, int], Any]] = {id(self.items): {}, id(self.label_decisions): {}}

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._request_children.get(key)
        if children is None:  # label lookups validate and lock: do them once per label set
            children = (self.requests.labels(endpoint, method, str(status)), self.latency.labels(endpoint, method))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_outcome(self, api: str, outcome: ModerationOutcome) -> None:
        """Items per decision and per (label, decision): at most 3 x (labels + 1) counter increments per flush.

        On the event loop the counts wait up to :data:`OUTCOME_FLUSH_SECONDS` (:meth:`flush`); in a worker
        thread (large requests) they are added at once. A small batch (the common single comment) only notes
        each item's outcome, its decision and its level per label, in one dict keyed by that outcome: requests
        with the same outcome cost one key, and the counter children are looked up once per distinct outcome.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        pending, noted = (self._pending, self._pending_outcomes) if loop is not None else ({}, {})
        decisions = outcome.decisions
        if len(outcome.items) <= SMALL_BATCH:  # a few items: plain Python beats numpy's per-call overhead
            labels = outcome.labels
            for decision, levels in zip(decisions.decision_list, decisions.level_rows, strict=True):
                key = (api, labels, decision, tuple(levels))
                noted[key] = noted.get(key, 0) + 1
        else:
            self._add_bincounts(pending, api, outcome)
        if loop is None:
            self._increment(pending, noted)
        elif self._flush_loop is not loop:  # (a loop that closed with a flush pending never runs it: schedule anew)
            self._flush_loop = loop
            loop.call_later(OUTCOME_FLUSH_SECONDS, self.flush)

    def _add_bincounts(self, pending: dict[Any, int], api: str, outcome: ModerationOutcome) -> None:
        """Add a large batch's counts per decision and per (label, decision) to ``pending`` (child -> count)."""
        decisions = outcome.decisions
        n_levels = len(DECISIONS)
        counts = [(self.items, api, np.bincount(decisions.decision, minlength=n_levels).tolist())]
        levels = decisions.levels
        counts += [(self.label_decisions, label, np.bincount(levels[:, j], minlength=n_levels).tolist())
                   for j, label in enumerate(outcome.labels)]
        for family, value, bins in counts:
            for level, count in enumerate(bins):
                if count:  # no child (no exposed series) for a decision nobody got
                    child = self._child(family, value, level)
                    pending[child] = pending.get(child, 0) + count

    def flush(self) -> None:
        """Add the outcome counts observed on the event loop to the counters.

        Scheduled :data:`OUTCOME_FLUSH_SECONDS` after the first count that found nothing pending: all requests
        moderated in between share one increment per (label, decision). :meth:`render` and shutdown flush
        first, so this worker's own scrape never misses a count. Runs on the event loop thread only (worker
        threads count directly).
        """
        self._flush_loop = None
        pending, self._pending = self._pending, {}
        noted, self._pending_outcomes = self._pending_outcomes, {}
        self._increment(pending, noted)

    def _increment(self, pending: dict[Any, int], noted: dict[_Outcome, int]) -> None:
        """Add ``pending`` (child -> count) and the noted outcomes (outcome -> items) to the counters."""
        for (api, labels, decision, levels), n in noted.items():
            child = self._child(self.items, api, decision)
            pending[child] = pending.get(child, 0) + n
            for label, level in zip(labels, levels, strict=True):
                child = self._child(self.label_decisions, label, level)
                pending[child] = pending.get(child, 0) + n
        for child, count in pending.items():
            child.inc(count)

    def _child(self, family: Counter, value: str, level: int) -> Any:
        """``family.labels(value, DECISIONS[level])``, made once: label lookups validate and take a lock."""
        key = (value, level)
        children = self._children[id(family)]
        child = children.get(key)
        if child is None:
            child = children[key] = family.labels(value, DECISIONS[level])
        return child

    def model_swapped(self, old: LoadedModel | None, new: LoadedModel) -> None:
        if old is not None and (old.name, old.version) != (new.name, new.version):
            self.model_info.labels(old.name, old.version).set(0)
        self.model_info.labels(new.name, new.version).set(1)

    def reload_result(self, ok: bool) -> None:
        self.reloads.labels("success" if ok else "failure").inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text: this process's registry, or all workers' in multiprocess mode."""
        self.flush()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

