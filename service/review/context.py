"""Everything the console's request handlers share: settings, database, the writer (for readiness)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.review.settings import ReviewSettings
from service.review.writer import ReviewQueueWriter

APP_STATE_KEY = "threadguard_review"


class LoginThrottle:
    """Refuses logins for a (username, client) pair after too many recent failures. In-process, bounded."""

    def __init__(self, max_failures: int = 10, window_seconds: float = 900.0, max_keys: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key, deque())
        while stamps and stamps[0] < now - self.window_seconds:
            stamps.popleft()
        return stamps

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.max_failures

    def failed(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            stamps = self._recent(key, now)
            stamps.append(now)
            self._failures[key] = stamps
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


@dataclass
class ReviewContext:
    settings: ReviewSettings
    engine: Engine
    sessions: sessionmaker[Session]
    writer: ReviewQueueWriter
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.console_session_ttl_hours)
