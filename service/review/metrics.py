"""Prometheus metrics of the review queue writer, registered once in the default registry.

A process may hold several writers (tests build several apps), so gauges are computed at scrape time over every
live writer instead of being set by any single one.
"""

from __future__ import annotations

import weakref
from typing import Protocol

from prometheus_client import Counter, Gauge


class _Observed(Protocol):
    @property
    def backlog(self) -> int: ...

    @property
    def database_up(self) -> bool: ...


_writers: weakref.WeakSet[_Observed] = weakref.WeakSet()


def observe(writer: _Observed) -> None:
    """Include ``writer`` in the gauges for as long as it lives."""
    _writers.add(writer)


def _total_backlog() -> float:
    return float(sum(writer.backlog for writer in list(_writers)))


def _database_up() -> float:
    writers = list(_writers)
    return float(all(writer.database_up for writer in writers)) if writers else 1.0


BACKLOG = Gauge(
    "threadguard_review_backlog",
    "Flagged items accepted for the review queue but not yet in its database (memory buffer + spill file)",
)
BACKLOG.set_function(_total_backlog)

DATABASE_UP = Gauge(
    "threadguard_review_database_up", "1 when the review queue's last database write succeeded"
)
DATABASE_UP.set_function(_database_up)

WRITTEN = Counter("threadguard_review_items_written", "Items newly written to the review queue database")
SPILLED = Counter("threadguard_review_items_spilled", "Items written to the spill file instead of memory")
WRITE_FAILURES = Counter("threadguard_review_write_failures", "Failed attempts to write a batch to the database")
DROPPED = Counter(
    "threadguard_review_items_dropped",
    "Items lost because neither the buffer nor the spill file could take them (disk full or unwritable)",
)
