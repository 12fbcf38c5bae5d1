"""Prometheus metrics of the review queue writer.

One :class:`ReviewMetrics` per registry (the service app's own registry, or prometheus_client's default one),
shared by every writer registered on it, so tests that build many apps never register a name twice. Values
are *set*, not computed at scrape time, so they also work in prometheus_client's multiprocess mode
(``threadguard serve --workers N``): the backlog gauge is summed over live workers, ``database_up`` is the
minimum over them.
"""

from __future__ import annotations

import threading
import weakref
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


class _Observed(Protocol):
    @property
    def backlog(self) -> int: ...

    @property
    def database_up(self) -> bool: ...


class ReviewMetrics:
    """The review queue's metric families on one registry, and the writers reporting to them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.backlog = Gauge(
            "threadguard_review_backlog",
            "Flagged items accepted for the review queue but not yet in its database (buffer + spill file)",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.database_up = Gauge(
            "threadguard_review_database_up",
            "1 when the review queue's last database operation succeeded",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.written = Counter(
            "threadguard_review_items_written", "Items newly written to the review queue database", registry=registry
        )
        self.spilled = Counter(
            "threadguard_review_items_spilled", "Items written to the spill file instead of memory", registry=registry
        )
        self.write_failures = Counter(
            "threadguard_review_write_failures", "Failed attempts to write to the review database", registry=registry
        )
        self.dropped = Counter(
            "threadguard_review_items_dropped",
            "Items lost because neither the buffer nor the spill file could take them (disk full or unwritable)",
            registry=registry,
        )
        self._writers: weakref.WeakSet[_Observed] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.database_up.set(1)

    def observe(self, writer: _Observed) -> None:
        with self._lock:
            self._writers.add(writer)
        self.refresh()

    def refresh(self) -> None:
        """Publish the current backlog and database state of every writer on this registry."""
        writers = list(self._writers)
        self.backlog.set(sum(writer.backlog for writer in writers))
        self.database_up.set(1 if all(writer.database_up for writer in writers) else 0)


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ReviewMetrics] = weakref.WeakKeyDictionary()
_create_lock = threading.Lock()


def metrics_for(registry: CollectorRegistry | None = None) -> ReviewMetrics:
    """The review metrics on ``registry`` (default: prometheus_client's global registry), created once."""
    registry = registry if registry is not None else REGISTRY
    with _create_lock:
        found = _by_registry.get(registry)
        if found is None:
            found = _by_registry[registry] = ReviewMetrics(registry)
        return found
