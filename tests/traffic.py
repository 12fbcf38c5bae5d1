"""Continuous /v1/moderate traffic against a running server, recording every answer's model version and any
failure. Reload and promotion tests use it to show that a model switch fails no request."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Traffic:
    base_url: str
    api_key: str | None = None
    threads: int = 2
    texts: tuple[str, ...] = ("you are a stupid idiot", "hello")
    pause: float = 0.0  # between one thread's requests; > 0 leaves CPU for the test itself
    fresh_connections: bool = False  # no keep-alive: with several workers, every worker gets traffic
    consecutive: int = 40  # answers that must agree before wait_for() returns
    max_seconds: float = 180.0
    max_requests: int = 50_000
    versions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Traffic:
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def _run(self, n: int) -> None:
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        first, *rest = self.texts
        body = {"items": [{"id": f"t{n}", "text": first}] + [{"id": f"b{i}", "text": t} for i, t in enumerate(rest)]}
        limits = httpx.Limits(max_keepalive_connections=0) if self.fresh_connections else httpx.Limits()
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.base_url, timeout=30.0, headers=headers, limits=limits) as client:
            while not self._stop.is_set() and time.monotonic() < deadline and self.count() < self.max_requests:
                try:
                    response = client.post("/v1/moderate", json=body)
                except httpx.HTTPError as exc:
                    self._record(failure=f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self._record(failure=f"{response.status_code}: {response.text[:200]}")
                else:
                    self._record(version=response.json()["model"]["version"])
                if self.pause:
                    time.sleep(self.pause)

    def _record(self, *, version: str | None = None, failure: str | None = None) -> None:
        with self._lock:
            if version is not None:
                self.versions.append(version)
            if failure is not None:
                self.failures.append(failure)

    def count(self) -> int:
        with self._lock:
            return len(self.versions)

    def wait_for_more(self, n: int, *, timeout: float = 30.0) -> None:
        """Until ``n`` more answers arrived."""
        target = self.count() + n
        deadline = time.monotonic() + timeout
        while self.count() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"traffic stalled at {self.count()} answers")
            time.sleep(0.05)

    def wait_for(self, version: str, *, consecutive: int | None = None, timeout: float = 30.0) -> None:
        """Until the last ``consecutive`` answers all came from ``version``."""
        consecutive = consecutive or self.consecutive
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                tail = self.versions[-consecutive:]
            if len(tail) == consecutive and set(tail) == {version}:
                return
            time.sleep(0.05)
        raise AssertionError(f"answers did not settle on {version}; last: {self.versions[-consecutive:]}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=60)
