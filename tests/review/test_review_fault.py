"""Fault test: PostgreSQL is stopped in the middle of steady moderation traffic and started again.

Acceptance: zero failed moderation responses, the backlog metric shows the waiting items during the outage,
and once the database is back every item the policy flagged is in the queue exactly once.

The app under test is a parameter (:data:`TARGETS`): the stand-in moderation app, and the real service's
``/v1/moderate`` with its shipped model.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from review_data import COMMENTS
from review_pg import PostgresServer
from review_server import AppSpec, UvicornServer
from sqlalchemy import select

from service.review.db import make_engine, make_session_factory
from service.review.models import ReviewItem

pytestmark = pytest.mark.slow

REQUESTS = 900
WORKERS = 3
PACE_SECONDS = 0.01  # per worker between requests: steady traffic, not a flood (2 shared cores)
STOP_AFTER = 200  # requests answered before the database is stopped
OUTAGE_REQUESTS = 350  # requests answered while it is down (REQUESTS leaves room for traffic after it)


@dataclass(frozen=True)
class ModerationTarget:
    """How to drive one moderation app: factory, endpoint, request bodies, and which items it flagged."""

    name: str
    app: AppSpec
    path: str
    build: Callable[[int], dict[str, Any]]
    flagged: Callable[[dict[str, Any], dict[str, Any]], list[str]]


_TEXTS = [comment.text for comment in COMMENTS]


def _native_request(number: int) -> dict[str, Any]:
    return {"items": [
        {"id": f"fault-{number}-{slot}", "text": f"{_TEXTS[(number * 2 + slot) % len(_TEXTS)]} [{number}]",
         "thread_id": f"thread-{number % 17}", "author_id": f"user-{number % 29}"}
        for slot in range(2)
    ]}


def _flagged_ids(_request: dict[str, Any], response: dict[str, Any]) -> list[str]:
    return [result["id"] for result in response["results"] if result["decision"] in ("review", "block")]


STANDIN = ModerationTarget("standin", AppSpec(), "/v1/moderate", _native_request, _flagged_ids)

# the real service: the production app factory, shipped model, review queue installed by create_app
SERVICE = ModerationTarget(
    "service", AppSpec("service.app:app_from_env", "/readyz"), "/v1/moderate", _native_request, _flagged_ids
)

TARGETS = [STANDIN, SERVICE]


@dataclass
class Traffic:
    """Bounded request loops in a few threads, recording every outcome."""

    base_url: str
    target: ModerationTarget
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    flagged: set[str] = field(default_factory=set)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (started at, seconds)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= REQUESTS:
                return None
            self._next += 1
            return self._next - 1

    def _worker(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            while (number := self._take()) is not None:
                body = self.target.build(number)
                began = time.monotonic()
                answer: dict[str, Any] | None = None
                try:
                    response = client.post(self.target.path, json=body)
                    if response.status_code == 200:
                        answer = response.json()
                    else:
                        problem = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = repr(exc)
                elapsed = time.monotonic() - began
                with self._lock:
                    self.answered += 1
                    self.latencies.append((began, elapsed))
                    if answer is not None:
                        self.flagged.update(self.target.flagged(body, answer))
                    else:
                        self.failures.append(f"request {number}: {problem}")
                time.sleep(PACE_SECONDS)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        return threads

    def wait_answered(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.answered < count:
            assert time.monotonic() < deadline, f"traffic stalled at {self.answered} answers"
            time.sleep(0.02)


def backlog(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics", timeout=5).text
    match = re.search(r"^threadguard_review_backlog (\S+)$", text, flags=re.MULTILINE)
    assert match, "threadguard_review_backlog is not exported"
    return float(match.group(1))


def queued_ids(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as db:
            return list(db.scalars(select(ReviewItem.item_id)))
    finally:
        engine.dispose()


@pytest.fixture
def pg(own_pg_server: PostgresServer) -> Iterator[PostgresServer]:
    own_pg_server.ensure_running()
    yield own_pg_server
    own_pg_server.ensure_running()


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_database_outage_during_traffic_loses_nothing(
    target: ModerationTarget, pg: PostgresServer, tmp_path: Path
) -> None:
    url = pg.create_database(f"fault_{target.name}")
    server = UvicornServer(target.app, {
        "THREADGUARD_DATABASE_URL": url,
        "THREADGUARD_REVIEW_SPILL_PATH": str(tmp_path / "spill.jsonl"),
        "THREADGUARD_REVIEW_BUFFER_SIZE": "100",  # small, so the outage also exercises the spill file
        "THREADGUARD_REVIEW_RETRY_MAX_SECONDS": "1",
    }, tmp_path)
    server.start()
    try:
        traffic = Traffic(server.base_url, target)
        threads = traffic.start()
        traffic.wait_answered(STOP_AFTER)

        pg.stop("fast")
        outage_began = time.monotonic()
        traffic.wait_answered(min(traffic.answered + OUTAGE_REQUESTS, REQUESTS - 100))
        backlog_during_outage = backlog(server.base_url)
        spill_existed = (tmp_path / "spill.jsonl").exists()
        pg.start()
        outage_ended = time.monotonic()

        for thread in threads:
            thread.join(120)
        assert traffic.answered == REQUESTS
        assert traffic.failures == [], traffic.failures[:5]

        deadline = time.monotonic() + 60
        while backlog(server.base_url) > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        ids = queued_ids(url)
    finally:
        exit_code = server.stop()

    assert backlog_during_outage > 100, "the backlog metric should show the items waiting for the database"
    assert spill_existed, "with a buffer of 100 the outage should have spilled to the file"
    assert len(ids) == len(set(ids)), "an item was queued twice"
    assert set(ids) == traffic.flagged, (
        f"missing {len(traffic.flagged - set(ids))}, unexpected {len(set(ids) - traffic.flagged)}"
    )
    assert len(traffic.flagged) > REQUESTS // 2
    # uvicorn re-raises the SIGTERM it handled, so a graceful stop ends with -15 after a clean shutdown
    assert exit_code in (0, -15) and "Application shutdown complete." in server.logs(), server.logs()[-2000:]

    during = [seconds for began, seconds in traffic.latencies if outage_began <= began <= outage_ended]
    assert len(during) >= 150, "too little traffic reached the service while the database was down"
    p95 = statistics.quantiles(during, n=20)[-1]
    assert p95 < 0.5, f"moderation slowed down during the outage: p95 {p95:.3f}s"
