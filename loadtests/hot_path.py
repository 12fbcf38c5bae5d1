"""In-process A/B of the single-comment hot path: CPU time per ``POST /v1/moderate`` with features switched off.

No sockets and no server: the real app (middleware, routing, auth, validation, scoring, metrics, access log to
/dev/null) is called as an ASGI app in one process, and each variant is timed in turns (interleaved repetitions,
alternating order), so the figures compare the code paths rather than the machine's mood. The figure is
process CPU time per request (every thread counted), which other load on a shared machine disturbs much less
than wall time.

Variants (``--variants``, comma-separated; the first is the reference for the ratios):

* ``standard``  FastAPI's own request handling (dependency injection, body parsing) and scoring in a worker
  thread: how the endpoints worked before (a ``def`` endpoint runs in the thread pool);
* ``lean``      the lean JSON route, scoring still in a worker thread;
* ``inline``    the lean route, small requests scored on the event loop;
* ``coalesce``  as ``inline``, concurrent small requests share one ONNX run (what ships);
* ``nolog``     ``coalesce`` without the per-request access log line;
* ``stubscore`` ``coalesce`` with the ONNX session replaced by a stub returning fixed scores: the request path
  without the model, so ``coalesce`` minus ``stubscore`` is what the ONNX runs cost per request;
* ``livez``     ``GET /livez`` instead: the no-op endpoint, the framework floor the HTTP benchmark compares with.

``--concurrency N`` sends N requests at a time (``asyncio.gather``), which is when coalescing can work.

Usage::

    .venv/bin/python loadtests/hot_path.py
    .venv/bin/python loadtests/hot_path.py --concurrency 8 --variants inline,coalesce
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import service.api.routing as routing  # noqa: E402
from service.app import create_app  # noqa: E402
from service.observability.logging import configure_logging  # noqa: E402
from service.settings import Settings  # noqa: E402

KEY = "hot-path-bench"
HEADERS = [(b"host", b"bench"), (b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]


def build(corpus: Path, n: int, seed: int) -> tuple[Any, list[bytes]]:
    configure_logging("INFO", json_lines=True)
    logging.getLogger().handlers[0].setStream(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    app = create_app(Settings(api_keys=KEY))  # type: ignore[arg-type]
    app.state.coordinator.startup()
    texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    bodies = [json.dumps({"items": [{"id": f"c{i}", "text": rng.choice(texts)}]}).encode() for i in range(n)]
    return app, bodies


async def call(app: Any, body: bytes | None) -> None:
    """``POST /v1/moderate`` with ``body``, or ``GET /livez`` when ``body`` is None."""
    path = "/v1/moderate" if body is not None else "/livez"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if body is not None else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*HEADERS, (b"content-length", str(len(body)).encode())] if body is not None else HEADERS[:2],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body or b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"unexpected status {sent[0]['status']}: {sent[1:]}")


class Switches:
    """Turns the hot-path features on and off in a running app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.core = app.state.core
        self.coalescer = self.core.coalescer
        self.lean_run = routing._LeanPlan.run
        self.inline_chars = routing.INLINE_MAX_CHARS
        self.scorer = self.core.model().scorer
        self.session = self.scorer._session

    def set(self, variant: str) -> None:
        async def standard_only(plan: Any, request: Any, standard: Any) -> Any:
            return await standard(request)

        routing._LeanPlan.run = standard_only if variant == "standard" else self.lean_run  # type: ignore[method-assign]
        routing.INLINE_MAX_CHARS = -1 if variant in {"standard", "lean"} else self.inline_chars
        self.core.coalescer = self.coalescer if variant in {"coalesce", "nolog", "stubscore"} else None
        logging.getLogger("threadguard.access").disabled = variant == "nolog"
        self.scorer._session = _FixedScores(len(self.scorer.labels)) if variant == "stubscore" else self.session


class _FixedScores:
    """Stands in for the onnxruntime session: the same scores for every text, at no cost."""

    def __init__(self, n_labels: int) -> None:
        self.row = [0.01] * n_labels

    def run(self, output_names: Any, feeds: dict[str, Any]) -> list[Any]:
        n_texts = len(next(iter(feeds.values())))
        return [np.array([self.row] * n_texts, dtype=np.float32)]


async def bench(app: Any, bodies: list[bytes], n: int, concurrency: int, offset: int, noop: bool = False) -> float:
    started = time.process_time()
    for i in range(0, n, concurrency):
        batch: list[bytes | None] = [bodies[(offset + i + j) % len(bodies)] for j in range(concurrency)]
        if noop:
            batch = [None] * concurrency
        if concurrency == 1:
            await call(app, batch[0])
        else:
            await asyncio.gather(*(call(app, body) for body in batch))
    return (time.process_time() - started) / n * 1e6


async def run(args: argparse.Namespace) -> None:
    app, bodies = build(args.corpus, 2000, args.seed)
    switches = Switches(app)
    variants = args.variants.split(",")
    results: dict[str, list[float]] = {v: [] for v in variants}
    for variant in variants:  # warm-up
        switches.set(variant)
        await bench(app, bodies, 200, args.concurrency, 0, noop=variant == "livez")
    for rep in range(args.repetitions):
        for variant in variants if rep % 2 == 0 else variants[::-1]:
            switches.set(variant)
            offset = rep * args.requests
            noop = variant == "livez"
            results[variant].append(await bench(app, bodies, args.requests, args.concurrency, offset, noop=noop))
    reference = statistics.median(results[variants[0]])
    print(f"concurrency {args.concurrency}, {args.repetitions} x {args.requests} requests per variant")
    print(f"{'variant':<10} {'median us CPU/req':>18} {'min':>8} {'ratio':>7}")
    for variant in variants:
        median = statistics.median(results[variant])
        print(f"{variant:<10} {median:>18.1f} {min(results[variant]):>8.1f} {median / reference:>7.3f}")
    if switches.coalescer is not None and switches.coalescer.runs:
        coalescer = switches.coalescer
        print(f"coalescer: {coalescer.texts} texts in {coalescer.runs} ONNX runs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="standard,lean,inline,coalesce,nolog")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=9)
    parser.add_argument("--requests", type=int, default=800, help="requests per variant per repetition")
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT / "loadtests" / "data" / "comments.jsonl")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="event loop (uvicorn's)")
    args = parser.parse_args(argv)
    if args.loop == "uvloop":  # what uvicorn runs when uvloop is installed (it is, with uvicorn[standard])
        import uvloop

        uvloop.run(run(args))
    else:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
