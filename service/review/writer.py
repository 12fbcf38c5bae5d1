"""The buffered background writer: the :class:`ReviewSink` the moderation core hands flagged items to.

``submit`` only puts items on a bounded in-memory queue (or, when it is full, appends them to the spill file)
and never raises, so moderation latency does not depend on the database. One daemon thread drains the queue in
batches; while the database is away it retries the batch in hand with capped exponential backoff, and new
items wait in the queue, overflowing to the spill file. Once a write succeeds again it replays the spill
file. Every write is idempotent (see ``store``), so the at-least-once hand-offs (retry, replay, shutdown
spill) never queue an item twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine

from service.core.review_sink import FlaggedItem
from service.review.metrics import ReviewMetrics, metrics_for
from service.review.records import to_record
from service.review.spill import SpillFile
from service.review.store import write_items

log = logging.getLogger(__name__)

#: how often the writer looks on disk for spill files other processes left behind
_DISK_SCAN_INTERVAL_SECONDS = 30.0
_INITIAL_RETRY_SECONDS = 0.1


class ReviewQueueWriter:
    """Accepts flagged items without blocking and writes them to the review database in the background."""

    def __init__(
        self,
        engine: Engine,
        spill: SpillFile,
        *,
        store_decisions: Iterable[str] = ("review", "block"),
        buffer_size: int = 10_000,
        batch_size: int = 200,
        flush_interval: float = 0.25,
        retry_max: float = 5.0,
        shutdown_timeout: float = 5.0,
        prepare: Callable[[Engine], None] | None = None,
        write: Callable[[Engine, list[FlaggedItem]], int] = write_items,
        metrics: ReviewMetrics | None = None,
        enrich: Callable[[list[FlaggedItem]], list[FlaggedItem]] | None = None,
    ) -> None:
        self._engine = engine
        self._enrich = enrich
        self._spill = spill
        self._store_decisions = frozenset(store_decisions)
        self._queue: queue.Queue[FlaggedItem] = queue.Queue(maxsize=buffer_size)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retry_max = retry_max
        self._shutdown_timeout = shutdown_timeout
        self._prepare = prepare
        self._write = write
        self._in_flight: list[FlaggedItem] = []
        self._stopping = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._database_up = False
        self._failures = 0
        self._next_replay = 0.0
        self._next_disk_scan = 0.0
        self.ready = threading.Event()  # set once the schema is migrated and the database answered
        self.first_attempt_done = threading.Event()  # set after the first try, whether it worked or not
        self._metrics = metrics or metrics_for()
        self._metrics.observe(self)

    # -- the ReviewSink protocol -------------------------------------------------------------------------

    def submit(self, items: list[FlaggedItem]) -> None:
        """Queue ``items`` whose decision is stored; never blocks on the database and never raises."""
        try:
            overflow: list[FlaggedItem] = []
            for item in items:
                if item.decision not in self._store_decisions:
                    continue
                if self._closed:
                    overflow.append(item)
                    continue
                try:
                    self._queue.put_nowait(item)
                except queue.Full:
                    overflow.append(item)
            if overflow:
                self._spill_items(overflow)
            self._metrics.refresh()
        except Exception:  # the moderation response must not fail because of the queue
            log.exception("review queue: could not accept %d items", len(items))

    # -- observation ---------------------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Items accepted but not yet in the database: buffered, being written, or in the spill file."""
        return self._queue.qsize() + len(self._in_flight) + self._spill.pending

    @property
    def database_up(self) -> bool:
        return self._database_up

    def status(self) -> dict[str, object]:
        """A small dict for health endpoints."""
        return {
            "running": self.running,
            "database_up": self._database_up,
            "ready": self.ready.is_set(),
            "buffered": self._queue.qsize(),
            "spilled": self._spill.pending,
            "backlog": self.backlog,
        }

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self.running:
            return
        self._stopping.clear()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="review-queue-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what can be written within the shutdown timeout; spill the rest so nothing is lost."""
        thread = self._thread
        self._stopping.set()
        if thread is not None:
            thread.join(self._shutdown_timeout + 1.0)
        self._closed = True  # from now on submit() spills directly
        leftovers: list[FlaggedItem] = []
        if thread is not None and thread.is_alive():
            leftovers, self._in_flight = list(self._in_flight), []
        leftovers.extend(self._drain_queue())
        if leftovers:
            # the thread may be hung on the database with a batch in hand; spilling it too is safe because a
            # replay of something that did get written is a no-op
            self._spill_items(leftovers)
        self._thread = None
        self._metrics.refresh()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the backlog is empty (tests, CLI); True if it emptied within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.backlog == 0:
                return True
            time.sleep(0.02)
        return self.backlog == 0

    # -- the background thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        self._prepare_database()
        while not self._stopping.is_set():
            try:
                batch = self._take_batch()
                if batch:
                    self._write_with_retry(batch)
                if not self._stopping.is_set():
                    self._maybe_replay()
            except Exception:  # keep the writer alive whatever happens; items stay queued
                log.exception("review queue writer: unexpected error")
                self._stopping.wait(1.0)
        self._drain_at_shutdown()

    def _prepare_database(self) -> None:
        delay = _INITIAL_RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                if self._prepare is not None:
                    self._prepare(self._engine)
                self._mark_up()
                self.ready.set()
                return
            except Exception as exc:
                self._mark_down(exc, "preparing the database")
            finally:
                self.first_attempt_done.set()
            self._stopping.wait(delay)
            delay = min(delay * 2, self._retry_max)

    def _take_batch(self) -> list[FlaggedItem]:
        try:
            first = self._queue.get(timeout=self._flush_interval)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _drain_queue(self, limit: int | None = None) -> list[FlaggedItem]:
        items: list[FlaggedItem] = []
        while limit is None or len(items) < limit:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _write_with_retry(self, batch: list[FlaggedItem]) -> None:
        if self._enrich is not None:
            try:  # e.g. explanation spans, computed here in the background rather than on the request path
                batch = self._enrich(batch)
            except Exception:
                log.exception("enriching %d review items failed; storing them as they are", len(batch))
        self._in_flight = batch
        delay = _INITIAL_RETRY_SECONDS
        try:
            while True:
                try:
                    self._metrics.written.inc(self._write(self._engine, batch))
                    self._mark_up()
                    return
                except Exception as exc:
                    self._mark_down(exc, f"writing {len(batch)} items")
                if self._stopping.is_set():
                    self._spill_items(batch)
                    return
                self._stopping.wait(delay)
                delay = min(delay * 2, self._retry_max)
        finally:
            self._in_flight = []
            self._metrics.refresh()

    def _maybe_replay(self) -> None:
        now = time.monotonic()
        if not self._database_up or now < self._next_replay:
            return
        if self._spill.pending == 0:
            if now < self._next_disk_scan:
                return
            self._next_disk_scan = now + _DISK_SCAN_INTERVAL_SECONDS
        claimed = self._spill.claim()
        if not claimed:
            self._spill.forget_if_gone()
            self._metrics.refresh()
        for index, spill in enumerate(claimed):
            try:
                written = 0
                for batch in spill.items(self._batch_size):
                    written += self._write(self._engine, batch)
                    if self._stopping.is_set():
                        raise InterruptedError("shutting down")
                self._metrics.written.inc(written)
                spill.done()
                self._spill.replayed(spill.lines)
                self._metrics.refresh()
                log.info("review queue: replayed %s (%d lines, %d new items)", spill.path, spill.lines, written)
            except Exception as exc:
                for remaining in claimed[index:]:
                    remaining.release()
                if not isinstance(exc, InterruptedError):
                    self._mark_down(exc, f"replaying {spill.path}")
                self._next_replay = time.monotonic() + self._retry_max
                return

    def _drain_at_shutdown(self) -> None:
        deadline = time.monotonic() + self._shutdown_timeout
        while True:
            batch = self._drain_queue(self._batch_size)
            if not batch:
                return
            written = False
            if self._database_up and time.monotonic() < deadline:
                self._in_flight = batch
                try:
                    self._metrics.written.inc(self._write(self._engine, batch))
                    written = True
                except Exception as exc:
                    self._mark_down(exc, "writing at shutdown")
                finally:
                    self._in_flight = []
            if not written:
                self._spill_items(batch + self._drain_queue())
                return

    # -- helpers ------------------------------------------------------------------------------------------

    def _spill_items(self, items: list[FlaggedItem]) -> None:
        try:
            self._spill.append([to_record(item) for item in items])
            self._metrics.spilled.inc(len(items))
        except Exception:
            self._metrics.dropped.inc(len(items))
            log.exception("review queue: LOST %d items: spill file %s is not writable",
                          len(items), self._spill.path)

    def _mark_up(self) -> None:
        if not self._database_up and self._failures:
            log.warning("review queue: database is back after %d failed attempts", self._failures)
        self._database_up = True
        self._failures = 0
        self._metrics.refresh()

    def _mark_down(self, exc: BaseException, doing: str) -> None:
        self._metrics.write_failures.inc()
        self._failures += 1
        if self._database_up or self._failures == 1:
            log.warning("review queue: database unavailable while %s (%s); items wait in the buffer "
                        "and spill to %s", doing, exc.__class__.__name__, self._spill.path)
        else:
            log.debug("review queue: still unavailable (%d attempts): %s", self._failures, exc)
        self._database_up = False
        self._metrics.refresh()
