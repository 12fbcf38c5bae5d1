"""The spill file: a JSONL overflow for queue items that could not be held in memory or written in time.

Several threads and even several worker processes may share one spill path, so the file is guarded with
``flock``:

* ``append`` opens the path, takes an exclusive lock, checks the path still names the inode it opened (a
  replayer may have renamed it meanwhile; then it retries on the new file) and appends whole lines.
* ``claim`` takes the lock on the live file and renames it to ``<path>.<pid>-<token>.replay``; later appends
  create a fresh file. The claimant keeps holding the lock on the renamed file while it replays, and deletes
  it only after every line is safely in the database. A ``.replay`` file whose lock nobody holds belongs to a
  process that died mid-replay: the next ``claim`` adopts it. Replays are idempotent (see ``store``), so a
  file replayed twice queues nothing twice.

Lines that cannot be parsed (e.g. the tail of a write cut short by a crash) are moved to
``<path>.rejected`` for a human to look at, never silently dropped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from service.core.review_sink import FlaggedItem
from service.review.records import RecordError, from_record

log = logging.getLogger(__name__)


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


@dataclass
class ClaimedSpill:
    """A spill file this process holds the lock on, ready to be replayed."""

    path: Path
    fd: int
    rejected_path: Path
    lines: int = 0
    _closed: bool = field(default=False, repr=False)

    def items(self, batch_size: int) -> Iterator[list[FlaggedItem]]:
        """The file's items in batches; malformed lines go to the rejected file."""
        batch: list[FlaggedItem] = []
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    batch.append(from_record(orjson.loads(line)))
                except (orjson.JSONDecodeError, RecordError) as exc:
                    log.error("spill file %s line %d unreadable (%s); moved to %s",
                              self.path, number, exc, self.rejected_path)
                    self._reject(line)
                    continue
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _reject(self, line: bytes) -> None:
        with open(self.rejected_path, "ab") as handle:
            handle.write(line if line.endswith(b"\n") else line + b"\n")

    def done(self) -> None:
        """Everything is in the database: delete the file and release the lock."""
        if self._closed:
            return
        try:
            os.unlink(self.path)
        finally:
            self.release()

    def release(self) -> None:
        """Give the file back (replay failed); it will be adopted again by a later ``claim``."""
        if not self._closed:
            self._closed = True
            os.close(self.fd)


class SpillFile:
    """Append items as JSON lines; claim the accumulated lines for replay. Thread- and process-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.name + ".rejected")
        self._lock = threading.Lock()
        self._pending = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for existing in self._files_on_disk():
            try:
                self._pending += _count_lines(existing)
            except OSError:  # vanished meanwhile (another process finished replaying it)
                continue

    @property
    def pending(self) -> int:
        """Lines waiting on disk, as far as this process knows (appended or found, not yet replayed)."""
        return self._pending

    def _files_on_disk(self) -> list[Path]:
        live = [self.path] if self.path.exists() else []
        return live + sorted(self.path.parent.glob(self.path.name + ".*.replay"))

    def has_data(self) -> bool:
        return self._pending > 0 or bool(self._files_on_disk())

    def append(self, records: list[dict[str, Any]]) -> None:
        """Durably (against a process crash) append ``records``, one JSON object per line. May raise OSError."""
        if not records:
            return
        data = b"".join(orjson.dumps(record) + b"\n" for record in records)
        with self._lock:
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    if not self._lock_live(fd):
                        continue  # renamed by a replayer between open and lock: append to the new file
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        data = b"\n" + data  # a previous writer died mid-line; keep our lines whole
                    _write_all(fd, data)
                    break
                finally:
                    os.close(fd)
            self._pending += len(records)

    def _lock_live(self, fd: int) -> bool:
        """Lock ``fd`` if it is still the live file. Never waits on a replayer, only on other appenders.

        A replayer keeps its lock for the whole replay, so blocking on a file it has renamed could stall an
        appender for as long as the database is slow; instead we poll and give up once the path moved.
        """
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not _same_file(fd, self.path):
                    return False
                time.sleep(0.001)
                continue
            return _same_file(fd, self.path)

    def claim(self) -> list[ClaimedSpill]:
        """Lock and take every spill file that nobody else is replaying (orphans first, then the live file)."""
        claimed: list[ClaimedSpill] = []
        for orphan in sorted(self.path.parent.glob(self.path.name + ".*.replay")):
            spill = self._try_lock(orphan, blocking=False)
            if spill is not None:
                claimed.append(spill)
        live = self._try_lock(self.path, blocking=True)
        if live is not None:
            target = self.path.with_name(f"{self.path.name}.{os.getpid()}-{secrets.token_hex(4)}.replay")
            os.rename(self.path, target)
            live.path = target
            claimed.append(live)
        for spill in claimed:
            try:
                spill.lines = _count_lines(spill.path)
            except OSError:
                spill.lines = 0
        return claimed

    def _try_lock(self, path: Path, *, blocking: bool) -> ClaimedSpill | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if not _same_file(fd, path):  # replayed and deleted, or renamed, while we waited
            os.close(fd)
            return None
        return ClaimedSpill(path=path, fd=fd, rejected_path=self.rejected_path)

    def forget_if_gone(self) -> None:
        """Reset the pending count when no spill file is left (another worker replayed ours)."""
        with self._lock:
            if not self._files_on_disk():
                self._pending = 0

    def replayed(self, lines: int) -> None:
        """Account for ``lines`` that are now in the database."""
        with self._lock:
            self._pending = max(0, self._pending - lines)
