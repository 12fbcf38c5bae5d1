"""Load test in one command: start threadguard with production settings, run locust headless, judge the result.

Usage::

    .venv/bin/python loadtests/run.py                       # the "mixed" scenario (realistic traffic)
    .venv/bin/python loadtests/run.py --scenario sla        # 300 single comments/s for 60 s, p99 <= 10 ms, 0 errors
    .venv/bin/python loadtests/run.py --scenario sla --api-key wrong     # injected error: must exit 1
    .venv/bin/python loadtests/run.py -u 50 --target-rps 500 --run-time 2m --max-p99-ms single=15
    .venv/bin/python loadtests/run.py --url http://127.0.0.1:8000 --api-key KEY   # an already running server

What it does:

1. Unless ``--url`` is given, starts ``threadguard serve --workers N`` (default 2) on a free loopback port with
   production settings: JSON logs at INFO (one line per request, never comment text) written to
   ``server.log`` in the report directory, an API key configured (a fresh random key, given to the server as
   its sha256 digest), the review queue off (``THREADGUARD_REVIEW_ENABLED=false``; its database and spill
   file point into a temporary directory all the same), then waits until every worker has started and
   ``/readyz`` answers 200, and sends a few warm-up requests of every type.
2. Runs ``locust --headless`` (``loadtests/locustfile.py``, FastHttpUser) for a fixed user count and run time,
   with CSV and HTML reports in ``loadtests/reports/<UTC timestamp>/``.
3. Prints p50/p95/p99 latency, requests/s and failures per request type, the server's RSS per worker, and
   writes ``summary.json`` next to the reports.
4. Exits 1 when the error rate exceeds ``--max-error-rate`` (default 0.001 = 0.1 %) or a request type's p99
   exceeds its ``--max-p99-ms`` bound; 0 when the run passes; 2 when the run could not happen.

``--api-key`` is the key the *client* sends (default: the server's key). Any other value makes every request
fail with 401, which is how to check that the command fails on errors.

Scenarios (every value can be overridden by its flag):

========  ======  ====  ==========  ========  =================================================  ==========
scenario  users   rps   run time    errors    p99 bounds (ms)                                    mix
========  ======  ====  ==========  ========  =================================================  ==========
mixed     30      150   60s         <= 0.1 %  single/perspective/openai 25, batch 100, thread 150  all types
sla       30      300   60s         0         single 10                                          single
smoke     4       20    10s         <= 0.1 %  none                                               all types
soak      30      150   10m         <= 0.1 %  single/perspective/openai 25, batch 100, thread 150  all types
========  ======  ====  ==========  ========  =================================================  ==========

Locust's percentiles are rounded to whole milliseconds below 100 ms, so a "10 ms" bound means "rounds to at most
10 ms". Timings depend on the machine and on whatever else runs on it; docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
LOCUSTFILE = HERE / "locustfile.py"
DEFAULT_REPORTS = HERE / "reports"
ALL_TYPES = "single=60,batch=10,thread=5,perspective=15,openai=10"
MIXED_P99 = {"single": 25.0, "perspective": 25.0, "openai": 25.0, "batch": 100.0, "thread": 150.0}

SCENARIOS: dict[str, dict[str, Any]] = {
    "mixed": {"users": 30, "target_rps": 150.0, "run_time": "60s", "mix": ALL_TYPES, "max_p99": MIXED_P99},
    "sla": {
        "users": 30,
        "target_rps": 300.0,
        "run_time": "60s",
        "mix": "single=1",
        "max_p99": {"single": 10.0},
        "max_error_rate": 0.0,
    },
    "smoke": {"users": 4, "target_rps": 20.0, "run_time": "10s", "mix": ALL_TYPES, "max_p99": {}},
    "soak": {"users": 30, "target_rps": 150.0, "run_time": "10m", "mix": ALL_TYPES, "max_p99": MIXED_P99},
}


@dataclass
class TypeResult:
    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    p99_bound_ms: float | None = None


@dataclass
class Verdict:
    passed: bool
    error_rate: float
    reasons: list[str] = field(default_factory=list)


# --- the server --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``threadguard serve`` as a child process with production settings."""

    def __init__(
        self,
        *,
        workers: int,
        key: str,
        log_path: Path,
        log_level: str,
        extra_env: dict[str, str],
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.port = free_port()
        self.cwd = cwd  # `python -m` puts the working directory first on sys.path: it decides which service/ runs
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.tmp = Path(tempfile.mkdtemp(prefix="threadguard-loadtest-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("THREADGUARD_", "PROMETHEUS_"))}
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
                "THREADGUARD_API_KEY_HASHES": hashlib.sha256(key.encode("utf-8")).hexdigest(),
                "THREADGUARD_LOG_LEVEL": log_level,
                "THREADGUARD_LOG_JSON": "true",
                "THREADGUARD_STATE_DIR": str(self.tmp / "state"),
                "THREADGUARD_REVIEW_ENABLED": "false",
                "THREADGUARD_DATABASE_URL": f"sqlite:///{self.tmp / 'review.db'}",
                "THREADGUARD_REVIEW_SPILL_PATH": str(self.tmp / "review-spill.jsonl"),
            }
        )
        env.update(extra_env)
        self.env = env
        self.command_prefix: list[str] = []  # e.g. ["taskset", "-c", "0"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> None:
        command = [
            *self.command_prefix,
            sys.executable,
            "-m",
            "threadguard.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            if self._started_workers() >= self.workers and _get(self.url + "/readyz") == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout:.0f}s; see {self.log_path}")

    def _started_workers(self) -> int:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return 0
        return text.count("Application startup complete")

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the workers, or the server itself with ``--workers 1``."""
        if self.process is None:
            return []
        return worker_processes(self.process.pid) or [self.process.pid]

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.process.returncode


def worker_processes(pid: int) -> list[int]:
    """The uvicorn worker processes of a supervisor (not multiprocessing's resource tracker)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    workers = []
    for child in (int(p) for p in text.split()):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            workers.append(child)
    return workers


class RssSampler:
    """Samples the RSS of the server's processes every ``interval`` seconds into a CSV file (a thread)."""

    def __init__(self, server: Server, path: Path, interval: float) -> None:
        self.server = server
        self.path = path
        self.interval = interval
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        started = time.monotonic()
        with self.path.open("w", encoding="utf-8") as handle:
            handle.write("elapsed_s,pid,role,rss_mib\n")
            while not self._stop.is_set():
                elapsed = time.monotonic() - started
                supervisor = self.server.process.pid if self.server.process else None
                pids = [(pid, "worker") for pid in self.server.worker_pids()]
                if supervisor is not None and all(pid != supervisor for pid, _ in pids):  # --workers 1: one process
                    pids.append((supervisor, "supervisor"))
                for pid, role in pids:
                    value = rss_mib(pid)
                    if value is not None:
                        handle.write(f"{elapsed:.1f},{pid},{role},{value:.1f}\n")
                        self.samples.append({"elapsed_s": elapsed, "pid": pid, "rss_mib": value})
                handle.flush()
                self._stop.wait(self.interval)


def rss_mib(pid: int) -> float | None:
    """Resident set size of one process in MiB (from /proc, Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _get(url: str, headers: dict[str, str] | None = None) -> int | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def _post(url: str, body: dict[str, Any], key: str) -> int | None:
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    try:
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def warm_up(url: str, key: str, corpus_dir: Path, rounds: int = 10) -> None:
    """A few requests of every kind so that first-call costs (imports, arenas) are not measured."""
    with (corpus_dir / "comments.jsonl").open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for _, line in zip(range(200), handle, strict=False)]
    for i in range(rounds):
        _post(url + "/v1/moderate", {"items": [{"id": "w", "text": texts[i]}]}, key)
        _post(url + "/v1/moderate", {"items": [{"id": str(j), "text": t} for j, t in enumerate(texts[:100])]}, key)
        _post(url + "/v1/moderations", {"input": texts[i]}, key)
        _post(
            url + "/v1alpha1/comments:analyze",
            {"comment": {"text": texts[i]}, "requestedAttributes": {"TOXICITY": {}}},
            key,
        )
        comments = [{"id": "a", "text": texts[i]}, {"id": "b", "text": texts[i + 1], "parent_id": "a"}]
        _post(url + "/v1/threads:moderate", {"comments": comments}, key)


def rss_growth(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per process: RSS at the first sample, after the first minute (warm), at the end, and the change."""
    by_pid: dict[int, list[dict[str, float]]] = {}
    for sample in samples:
        by_pid.setdefault(int(sample["pid"]), []).append(sample)
    growth = {}
    for pid, series in by_pid.items():
        warm = next((s for s in series if s["elapsed_s"] >= 60.0), series[0])
        last = series[-1]
        growth[str(pid)] = {
            "first_mib": series[0]["rss_mib"],
            "warm_mib": warm["rss_mib"],
            "last_mib": last["rss_mib"],
            "max_mib": max(s["rss_mib"] for s in series),
            "growth_after_warm_mib": round(last["rss_mib"] - warm["rss_mib"], 1),
            "samples": len(series),
        }
    return growth


# --- server-side latency (the service's own histogram) -------------------------------------------------------

HISTOGRAM = "threadguard_http_request_duration_seconds_bucket"


def scrape_latency(url: str) -> dict[tuple[str, float], float]:
    """Cumulative bucket counts of the server's request-duration histogram: (endpoint, upper bound) -> count."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
            text = response.read().decode("utf-8")
    except (urllib.error.URLError, OSError):
        return {}
    buckets: dict[tuple[str, float], float] = {}
    for line in text.splitlines():
        if not line.startswith(HISTOGRAM + "{"):
            continue
        labels, _, value = line[len(HISTOGRAM) + 1 :].rpartition("} ")
        fields = dict(part.split("=", 1) for part in labels.split(","))
        endpoint = fields.get("endpoint", "").strip('"')
        bound = float(fields.get("le", "").strip('"').replace("+Inf", "inf"))
        key = (endpoint, bound)
        buckets[key] = buckets.get(key, 0.0) + float(value)  # summed over workers
    return buckets


def latency_delta(
    before: dict[tuple[str, float], float], after: dict[tuple[str, float], float]
) -> dict[str, dict[str, float]]:
    """Per endpoint over the run: requests, share answered within 5/10/25 ms, and p50/p99 as bucket bounds (ms)."""
    out: dict[str, dict[str, float]] = {}
    for endpoint in sorted({e for e, _ in after}):
        if endpoint in {"/metrics", "/readyz", "/livez"}:
            continue
        bounds = sorted(b for e, b in after if e == endpoint)
        counts = [after[(endpoint, b)] - before.get((endpoint, b), 0.0) for b in bounds]
        total = counts[-1] if counts else 0.0
        if total <= 0:
            continue

        out[endpoint] = {
            "requests": total,
            "within_5ms": round(_within(bounds, counts, 5), 4),
            "within_10ms": round(_within(bounds, counts, 10), 4),
            "within_25ms": round(_within(bounds, counts, 25), 4),
            "p50_le_ms": _quantile(bounds, counts, 0.5),
            "p99_le_ms": _quantile(bounds, counts, 0.99),
        }
    return out


def _quantile(bounds: list[float], counts: list[float], q: float) -> float:
    """The smallest bucket bound (ms) with at least ``q`` of the requests at or below it."""
    return next((b * 1000 for b, c in zip(bounds, counts, strict=True) if c >= q * counts[-1]), float("inf"))


def _within(bounds: list[float], counts: list[float], ms: float) -> float:
    """Share of the requests answered within ``ms`` (``ms`` should be a bucket bound)."""
    return max((c for b, c in zip(bounds, counts, strict=True) if b * 1000 <= ms), default=0.0) / counts[-1]


def print_server_side(figures: dict[str, dict[str, float]]) -> None:
    if not figures:
        return
    print("server side (threadguard_http_request_duration_seconds, from the first byte read to the last sent):")
    for endpoint, f in figures.items():
        print(
            f"  {endpoint:<28} {f['requests']:>8.0f} requests  p50 <= {f['p50_le_ms']:g} ms  "
            f"p99 <= {f['p99_le_ms']:g} ms  within 10 ms: {f['within_10ms']:.2%}"
        )


# --- locust ------------------------------------------------------------------------------------------------


def run_locust(args: argparse.Namespace, url: str, key: str, out: Path) -> int:
    """Run locust headless with :func:`locust_command`; its exit code (the load generator's CPU goes to args)."""
    command = locust_command(args, url, key, out)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADTEST_", "LOCUST_"))}
    before = os.times()
    with (out / "locust.log").open("wb") as log:
        code = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    after = os.times()
    args.locust_cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return code


def locust_command(args: argparse.Namespace, url: str, key: str, out: Path) -> list[str]:
    """The locust command line for this run (reports under ``out``)."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate or args.users),
        "-t",
        args.run_time,
        "--csv",
        str(out / "locust"),
        "--html",
        str(out / "report.html"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
        "--exit-code-on-error",
        "0",
        "--mix",
        args.mix,
        "--target-rps",
        str(args.target_rps),
        "--arrival",
        args.arrival,
        f"--api-key={key}",  # one token: a random key may start with "-", which argparse would take for an option
        "--corpus-dir",
        str(args.corpus_dir),
        "--seed",
        str(args.seed),
    ]
    if args.processes > 1:
        command += ["--processes", str(args.processes)]
    return command


def read_stats(path: Path, bounds: dict[str, float]) -> tuple[list[TypeResult], TypeResult | None]:
    """Per request type and aggregated figures from locust's ``*_stats.csv``."""
    rows: list[TypeResult] = []
    total: TypeResult | None = None
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"]
            result = TypeResult(
                name=name,
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=float(row["Requests/s"]),
                p50_ms=_ms(row["50%"]),
                p95_ms=_ms(row["95%"]),
                p99_ms=_ms(row["99%"]),
                max_ms=_ms(row["Max Response Time"]),
            )
            if name == "Aggregated":
                total = result
            else:
                result.p99_bound_ms = bounds.get(name, bounds.get("*"))
                rows.append(result)
    return rows, total


def _ms(value: str) -> float:
    try:
        return float(value)
    except ValueError:  # "N/A" when a type saw no requests
        return float("nan")


def judge(rows: list[TypeResult], total: TypeResult | None, max_error_rate: float) -> Verdict:
    if total is None or total.requests == 0:
        return Verdict(False, 1.0, ["no requests were made"])
    error_rate = total.failures / total.requests
    reasons = []
    if error_rate > max_error_rate:
        reasons.append(f"error rate {error_rate:.4%} ({total.failures}/{total.requests}) exceeds {max_error_rate:.4%}")
    for row in rows:
        if row.p99_bound_ms is not None and not row.p99_ms <= row.p99_bound_ms:
            reasons.append(f"{row.name}: p99 {row.p99_ms:g} ms exceeds {row.p99_bound_ms:g} ms")
    return Verdict(not reasons, error_rate, reasons)


def print_table(rows: list[TypeResult], total: TypeResult | None) -> None:
    columns = ("requests", 9), ("fail", 6), ("req/s", 8), ("p50 ms", 7), ("p95 ms", 7), ("p99 ms", 7), ("max ms", 7)
    header = f"{'type':<12} " + " ".join(f"{name:>{width}}" for name, width in columns) + "  bound"
    print(header)
    print("-" * len(header))
    for row in [*rows, *([total] if total else [])]:
        bound = f"p99 <= {row.p99_bound_ms:g}" if row.p99_bound_ms is not None else ""
        print(
            f"{row.name:<12} {row.requests:>9} {row.failures:>6} {row.rps:>8.1f} {row.p50_ms:>7g} "
            f"{row.p95_ms:>7g} {row.p99_ms:>7g} {row.max_ms:>7.0f}  {bound}"
        )


def print_failures(path: Path, limit: int = 5) -> None:
    if not path.exists():
        return
    with path.open(newline="", encoding="utf-8") as handle:
        failures = list(csv.DictReader(handle))
    for row in failures[:limit]:
        print(f"  failure x{row.get('Occurrences')}: {row.get('Name')}: {row.get('Error', '')[:200]}")


# --- command line ------------------------------------------------------------------------------------------


def parse_bounds(values: list[str] | None, default: dict[str, float]) -> dict[str, float]:
    """``--max-p99-ms 10`` (every type) and/or ``--max-p99-ms batch=60``; given flags replace the scenario's."""
    if not values:
        return dict(default)
    bounds: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if sep:
            bounds[name.strip()] = float(number)
        else:
            bounds["*"] = float(name)
    return bounds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Start threadguard, run locust headless, print per-type latency, fail on errors or slow p99.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Scenarios", 1)[1] if __doc__ else None,
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="mixed")
    parser.add_argument("-u", "--users", type=int, default=None, help="concurrent locust users")
    parser.add_argument("-r", "--spawn-rate", type=float, default=None, help="users started per second")
    parser.add_argument("-t", "--run-time", default=None, help="e.g. 60s, 10m")
    parser.add_argument("--target-rps", type=float, default=None, help="total requests/s (0: as fast as possible)")
    parser.add_argument("--mix", default=None, help="request type weights, e.g. single=60,batch=10")
    parser.add_argument("--arrival", choices=("constant", "poisson"), default="constant")
    parser.add_argument(
        "--max-p99-ms",
        action="append",
        default=None,
        metavar="[TYPE=]MS",
        help="p99 bound for every type (MS) or one type (TYPE=MS); repeatable; replaces the scenario's",
    )
    parser.add_argument("--max-error-rate", type=float, default=None, help="failures/requests (default 0.001)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--log-level", default="INFO", help="server log level (default INFO, as in production)")
    parser.add_argument("--api-key", default=None, help="key the client sends (default: the server's key)")
    parser.add_argument("--url", default=None, help="test this running server instead of starting one")
    parser.add_argument("--processes", type=int, default=1, help="locust processes (default 1)")
    parser.add_argument("--corpus-dir", type=Path, default=HERE / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="parent of the report directory")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra server env")
    parser.add_argument(
        "--sample-rss", type=float, default=0.0, metavar="SECONDS", help="sample worker RSS into rss.csv"
    )
    parser.add_argument(
        "--code-dir",
        type=Path,
        default=None,
        help="serve DIR/service instead of this checkout's (before/after comparisons; e.g. a `git archive` of "
        "an older commit)",
    )
    return parser


def resolve(args: argparse.Namespace) -> tuple[argparse.Namespace, dict[str, float]]:
    scenario = SCENARIOS[args.scenario]
    for name in ("users", "target_rps", "run_time", "mix"):
        if getattr(args, name) is None:
            setattr(args, name, scenario[name])
    if args.max_error_rate is None:
        args.max_error_rate = scenario.get("max_error_rate", 0.001)
    return args, parse_bounds(args.max_p99_ms, scenario["max_p99"])


def main(argv: list[str] | None = None) -> int:
    args, bounds = resolve(build_parser().parse_args(argv))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.reports / stamp
    suffix = 1
    while out.exists():
        suffix += 1
        out = args.reports / f"{stamp}-{suffix}"
    out.mkdir(parents=True)
    if not (args.corpus_dir / "comments.jsonl").exists():
        print(f"no corpus in {args.corpus_dir}: run loadtests/build_corpus.py", file=sys.stderr)
        return 2

    server: Server | None = None
    sampler: RssSampler | None = None
    server_key = secrets.token_urlsafe(24)
    extra_env = dict(item.split("=", 1) for item in args.env)
    try:
        if args.url:
            url = args.url.rstrip("/")
            client_key = args.api_key or ""
        else:
            server = Server(
                workers=args.workers,
                key=server_key,
                log_path=out / "server.log",
                log_level=args.log_level,
                extra_env=extra_env,
                cwd=args.code_dir.resolve() if args.code_dir else REPO_ROOT,
            )
            if args.code_dir:
                server.env["PYTHONPATH"] = os.pathsep.join([str(args.code_dir.resolve()), server.env["PYTHONPATH"]])
            print(f"starting threadguard serve --workers {args.workers} on {server.url} (log: {server.log_path})")
            server.start()
            client_key = server_key if args.api_key is None else args.api_key
            warm_up(server.url, server_key, args.corpus_dir)
            url = server.url
            if args.sample_rss:
                sampler = RssSampler(server, out / "rss.csv", args.sample_rss).start()
        print(
            f"locust: {args.users} users, {args.target_rps:g} req/s target ({args.arrival}), {args.run_time}, "
            f"mix {args.mix}"
        )
        started = time.time()
        before = scrape_latency(url)
        code = run_locust(args, url, client_key, out)
        elapsed = time.time() - started
        server_side = latency_delta(before, scrape_latency(url))
        rss = {pid: rss_mib(pid) for pid in server.worker_pids()} if server else {}
        if server is not None and server.process is not None:
            rss[server.process.pid] = rss_mib(server.process.pid)
    except (RuntimeError, OSError) as exc:
        print(f"load test could not run: {exc}", file=sys.stderr)
        return 2
    finally:
        if sampler is not None:
            sampler.stop()
        if server is not None:
            server.stop()

    stats_path = out / "locust_stats.csv"
    if code != 0 or not stats_path.exists():
        print(f"locust failed (exit {code}); see {out / 'locust.log'}", file=sys.stderr)
        return 2
    rows, total = read_stats(stats_path, bounds)
    verdict = judge(rows, total, args.max_error_rate)
    print()
    print_table(rows, total)
    print_failures(out / "locust_failures.csv")
    print_server_side(server_side)
    if server is not None:
        supervisor = server.process.pid if server.process else None
        worker_rss = ", ".join(f"{v:.0f}" for pid, v in rss.items() if v is not None and pid != supervisor)
        print(f"server RSS per worker at the end (MiB): {worker_rss}")
    if sampler is not None and sampler.samples:
        for pid, figures in rss_growth(sampler.samples).items():
            print(
                f"RSS pid {pid}: first {figures['first_mib']:.1f}, after 60 s {figures['warm_mib']:.1f}, "
                f"last {figures['last_mib']:.1f}, max {figures['max_mib']:.1f} MiB "
                f"({figures['samples']} samples)"
            )
    if total is not None and total.requests:
        cpu = getattr(args, "locust_cpu_s", 0.0)
        print(f"load generator (locust) CPU: {cpu:.1f} s, {cpu / total.requests * 1e6:.0f} us per request")
    print(f"reports: {out}")
    status = "PASS" if verdict.passed else "FAIL"
    print(f"{status}: error rate {verdict.error_rate:.4%} (max {args.max_error_rate:.4%})")
    for reason in verdict.reasons:
        print(f"  - {reason}")
    summary = {
        "started_at": stamp,
        "duration_s": round(elapsed, 1),
        "command": [sys.executable, *sys.argv],
        "scenario": args.scenario,
        "config": {
            "users": args.users,
            "target_rps": args.target_rps,
            "run_time": args.run_time,
            "mix": args.mix,
            "arrival": args.arrival,
            "workers": args.workers if server else None,
            "log_level": args.log_level if server else None,
            "url": args.url,
            "code_dir": str(args.code_dir) if args.code_dir else None,
            "max_error_rate": args.max_error_rate,
            "max_p99_ms": bounds,
        },
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "results": [asdict(row) for row in rows],
        "total": asdict(total) if total else None,
        "rss_mib": {str(pid): value for pid, value in rss.items()},
        "rss_growth": rss_growth(sampler.samples) if sampler is not None else None,
        "server_side_latency": server_side,
        "locust_cpu_s": round(getattr(args, "locust_cpu_s", 0.0), 2),
        "verdict": asdict(verdict),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
    raise SystemExit(130)
