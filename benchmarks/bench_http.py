"""HTTP benchmark: the moderation endpoint against the framework floor, on one server, in one run.

Load generator: ``wrk`` (Debian package ``wrk``, 4.1), a native event-loop client using a few microseconds of
CPU per request, driven by a Lua script that cycles through pre-built POST bodies. It is not the bottleneck:
``--report`` prints its CPU use next to the server's.

Targets, measured round-robin (each round runs every target once, rotating the order) against the same
``threadguard serve`` process:

* ``noop``   ``GET /livez``: the no-op endpoint of the same app; it passes through the whole middleware stack
  (request id, access log line, metrics, body limit, routing), so it is the framework floor;
* ``single`` ``POST /v1/moderate`` with one comment (texts from ``loadtests/data/comments.jsonl``);
* ``batch``  ``POST /v1/moderate`` with 100 comments.

For each: requests/s, latency percentiles (wrk's, in ms), non-2xx responses, and the server's CPU time per
request (utime + stime of the worker processes from /proc, which is robust to other load on the machine),
and each worker's share of that CPU per round (a worker left without connections shows as 0 %).
Then the ratio of single-comment to no-op throughput: per round (paired), reported as the median.

Throughput targets run closed-loop at ``--connections`` (default 16, spread over the workers) for
``--duration`` seconds; the batch target runs with ``--batch-connections`` (default 1), so its latency is the
service time of one batch, not queueing.

Usage::

    .venv/bin/python benchmarks/bench_http.py                          # 2 workers, 5 rounds x 10 s per target
    .venv/bin/python benchmarks/bench_http.py --pin                    # server on CPU 0, wrk on CPU 1 (taskset)
    .venv/bin/python benchmarks/bench_http.py --rounds 3 --duration 5 --json out.json
    .venv/bin/python benchmarks/bench_http.py --variant base:PYTHONPATH=/tmp/base --variant new   # A/B servers

``--variant NAME[:ENV=VALUE,...]`` starts one server per variant (environment overrides; ``PYTHONPATH=DIR``
serves ``DIR/service`` instead of this checkout's, the server then runs in DIR because ``python -m`` puts the
working directory first on ``sys.path``) and interleaves them in every round, so code changes are compared
under the same conditions. Only 127.0.0.1 is ever contacted; every run is bounded by rounds x targets x duration.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from loadtests.run import Server, rss_mib  # noqa: E402

CORPUS = REPO_ROOT / "loadtests" / "data" / "comments.jsonl"
SEED = 20240615
BATCH = 100
TICK = os.sysconf("SC_CLK_TCK")

LUA = r"""
local bodies, n, i = {}, 0, 0
init = function(args)
  local file = args[1]
  if file ~= nil and file ~= "" then
    for line in io.lines(file) do n = n + 1; bodies[n] = line end
  end
  i = math.random(0, math.max(n - 1, 0))
end
request = function()
  if n == 0 then return wrk.format(nil, nil) end
  i = i % n + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""


@dataclass
class Target:
    name: str
    path: str
    bodies: Path | None
    connections: int


@dataclass
class Sample:
    variant: str
    target: str
    round: int
    rps: float
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    server_cpu_us_per_req: float
    wrk_cpu_us_per_req: float
    worker_cpu_shares: list[float]  # each worker's part of the server CPU: shows a worker left idle


@dataclass
class Variant:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    server: Server | None = None


def write_bodies(directory: Path, n_single: int = 4000, n_batch: int = 300) -> tuple[Path, Path]:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(SEED)
    single = directory / "single.jsonl"
    batch = directory / "batch.jsonl"
    with single.open("w", encoding="utf-8") as handle:
        for i in range(n_single):
            handle.write(json.dumps({"items": [{"id": f"c{i}", "text": rng.choice(texts)}]}) + "\n")
    with batch.open("w", encoding="utf-8") as handle:
        for _ in range(n_batch):
            items = [{"id": f"c{j}", "text": text} for j, text in enumerate(rng.sample(texts, BATCH))]
            handle.write(json.dumps({"items": items}) + "\n")
    return single, batch


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total


def run_wrk(
    url: str, target: Target, key: str, lua: Path, duration: float, threads: int, wrk_cpus: str | None
) -> tuple[dict[str, Any], float]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{target.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-H",
        f"Authorization: Bearer {key}",
        "-H",
        "Content-Type: application/json",
        "-s",
        str(lua),
        url + target.path,
        "--",
        str(target.bodies or ""),
    ]
    if wrk_cpus is not None:
        command = ["taskset", "-c", wrk_cpus, *command]
    before = os.times()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    after = os.times()
    wrk_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    for line in completed.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON ") :]), wrk_cpu
    raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[-500:]}")


def measure(variant: Variant, target: Target, round_: int, args: argparse.Namespace, key: str, lua: Path) -> Sample:
    assert variant.server is not None
    pids = variant.server.worker_pids()
    ticks = [cpu_ticks([pid]) for pid in pids]
    result, wrk_cpu = run_wrk(variant.server.url, target, key, lua, args.duration, args.threads, args.wrk_cpus)
    per_worker = [cpu_ticks([pid]) - before for pid, before in zip(pids, ticks, strict=True)]
    server_cpu = sum(per_worker) / TICK
    requests = max(1, result["requests"])
    errors = result["status"] + result["connect"] + result["read"] + result["write"] + result["timeout"]
    return Sample(
        variant=variant.name,
        target=target.name,
        round=round_,
        rps=result["requests"] / (result["duration_us"] / 1e6),
        requests=result["requests"],
        errors=errors,
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        p999_ms=result["p999_us"] / 1000,
        server_cpu_us_per_req=server_cpu / requests * 1e6,
        wrk_cpu_us_per_req=wrk_cpu / requests * 1e6,
        worker_cpu_shares=[round(t / max(1, sum(per_worker)), 3) for t in per_worker],
    )


def summarise(samples: list[Sample], variants: list[Variant], targets: list[Target]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in variants:
        per_target: dict[str, Any] = {}
        for target in targets:
            rows = [s for s in samples if s.variant == variant.name and s.target == target.name]
            if not rows:
                continue
            per_target[target.name] = {
                key: round(statistics.median(getattr(s, key) for s in rows), 3)
                for key in (
                    "rps",
                    "p50_ms",
                    "p90_ms",
                    "p99_ms",
                    "p999_ms",
                    "server_cpu_us_per_req",
                    "wrk_cpu_us_per_req",
                )
            }
            per_target[target.name]["errors"] = sum(s.errors for s in rows)
            per_target[target.name]["rounds"] = len(rows)
        ratios = []
        cpu_ratios = []
        for round_ in sorted({s.round for s in samples}):
            by_target = {s.target: s for s in samples if s.variant == variant.name and s.round == round_}
            if "single" in by_target and "noop" in by_target:
                ratios.append(by_target["single"].rps / by_target["noop"].rps)
                cpu_ratios.append(by_target["noop"].server_cpu_us_per_req / by_target["single"].server_cpu_us_per_req)
        if ratios:
            per_target["single_vs_noop"] = {
                "throughput_ratio_median": round(statistics.median(ratios), 3),
                "throughput_ratio_rounds": [round(r, 3) for r in ratios],
                "server_cpu_ratio_median": round(statistics.median(cpu_ratios), 3),
            }
        if variant.server is not None:
            per_target["rss_mib_per_worker"] = [
                round(v, 1) for v in (rss_mib(pid) for pid in variant.server.worker_pids()) if v is not None
            ]
        out[variant.name] = per_target
    return out


def print_report(summary: dict[str, Any], targets: list[Target]) -> None:
    print()
    print(
        f"{'variant':<10} {'target':<7} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'srv CPU us/req':>15} {'wrk CPU us/req':>15} {'errors':>7}"
    )
    for variant, figures in summary.items():
        for target in targets:
            f = figures.get(target.name)
            if f is None:
                continue
            print(
                f"{variant:<10} {target.name:<7} {target.connections:>5} {f['rps']:>9.1f} {f['p50_ms']:>8.2f} "
                f"{f['p90_ms']:>8.2f} {f['p99_ms']:>8.2f} {f['server_cpu_us_per_req']:>15.1f} "
                f"{f['wrk_cpu_us_per_req']:>15.1f} {f['errors']:>7}"
            )
        ratio = figures.get("single_vs_noop")
        if ratio:
            print(
                f"{variant:<10} single/noop throughput ratio (median of paired rounds): "
                f"{ratio['throughput_ratio_median']:.3f}  rounds {ratio['throughput_ratio_rounds']}  "
                f"| noop/single server CPU per request: {ratio['server_cpu_ratio_median']:.3f}"
            )
        if figures.get("rss_mib_per_worker"):
            print(f"{variant:<10} RSS per worker after the run (MiB): {figures['rss_mib_per_worker']}")


def parse_variant(text: str) -> Variant:
    name, _, assignments = text.partition(":")
    env = {}
    for assignment in filter(None, assignments.split(",")):
        key, sep, value = assignment.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: expected NAME:ENV=VALUE,...")
        env[key] = value
    return Variant(name or "server", env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target per round")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections for noop and single")
    parser.add_argument("--batch-connections", type=int, default=1, help="wrk connections for the batch target")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--targets", default="noop,single,batch", help="subset of noop,single,batch")
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, wrk on CPU 1 (taskset)")
    parser.add_argument("--server-cpus", default=None, help="taskset CPU list for the server (e.g. 0)")
    parser.add_argument("--wrk-cpus", default=None, help="taskset CPU list for wrk (e.g. 1)")
    parser.add_argument("--log-level", default="INFO", help="server log level (default INFO, as in production)")
    parser.add_argument("--variant", action="append", default=[], help="NAME[:ENV=VALUE,...], repeatable")
    parser.add_argument("--json", type=Path, default=None, help="write samples and summary here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    if args.pin:
        args.server_cpus = args.server_cpus or "0"
        args.wrk_cpus = args.wrk_cpus or "1"

    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    lua = tmp / "bodies.lua"
    lua.write_text(LUA, encoding="utf-8")
    single_bodies, batch_bodies = write_bodies(tmp)
    all_targets = {
        "noop": Target("noop", "/livez", None, args.connections),
        "single": Target("single", "/v1/moderate", single_bodies, args.connections),
        "batch": Target("batch", "/v1/moderate", batch_bodies, args.batch_connections),
    }
    targets = [all_targets[name] for name in args.targets.split(",")]
    variants = [parse_variant(v) for v in args.variant] or [Variant("server")]
    key = "bench-" + os.urandom(8).hex()
    samples: list[Sample] = []
    started = datetime.now(UTC)
    try:
        for variant in variants:
            variant.server = Server(
                workers=args.workers,
                key=key,
                log_path=tmp / f"{variant.name}.log",
                log_level=args.log_level,
                extra_env=dict(variant.env),
                cwd=Path(variant.env["PYTHONPATH"]) if "PYTHONPATH" in variant.env else REPO_ROOT,
            )
            if args.server_cpus is not None:
                variant.server.command_prefix = ["taskset", "-c", args.server_cpus]
            print(f"starting {variant.name}: {args.workers} workers on {variant.server.url} {variant.env or ''}")
            variant.server.start()
        for variant in variants:  # warm-up: first requests pay for lazy imports and arena growth
            assert variant.server is not None
            for target in targets:
                run_wrk(variant.server.url, Target(target.name, target.path, target.bodies, 2), key, lua, 2, 1, None)
        combos = [(v, t) for t in targets for v in variants]
        for round_ in range(args.rounds):
            shift = round_ % len(combos)
            for variant, target in combos[shift:] + combos[:shift]:
                sample = measure(variant, target, round_, args, key, lua)
                samples.append(sample)
                print(
                    f"round {round_ + 1}/{args.rounds} {variant.name:<8} {target.name:<7} {sample.rps:9.1f} req/s  "
                    f"p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:6.2f} ms  "
                    f"server {sample.server_cpu_us_per_req:7.1f} us CPU/req  errors {sample.errors}  "
                    f"CPU per worker {'/'.join(f'{100 * share:.0f}' for share in sample.worker_cpu_shares)} %",
                    flush=True,
                )
        summary = summarise(samples, variants, targets)
    finally:
        for variant in variants:
            if variant.server is not None:
                variant.server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(summary, targets)
    machine = {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
    }
    print(f"machine: {machine}")
    if args.json is not None:
        payload = {
            "started_at": started.isoformat(timespec="seconds"),
            "command": [sys.executable, *sys.argv],
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": machine,
            "samples": [asdict(s) for s in samples],
            "summary": summary,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    errors = sum(s.errors for s in samples)
    return 1 if errors else 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    raise SystemExit(main())
