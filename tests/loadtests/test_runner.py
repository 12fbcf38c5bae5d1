"""The load-test runner: passes on a healthy server, fails on injected errors, writes its reports.

The end-to-end tests start real ``threadguard serve`` processes through ``loadtests/run.py`` and run locust for a
few seconds with a handful of users. They assert outcomes (exit codes, reports, counts), never timings: the smoke
scenario has no latency bound.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

# never import locust in the test process: it monkey-patches everything with gevent (asyncio then breaks in
# later tests); the runner starts locust as a subprocess
if importlib.util.find_spec("locust") is None:
    pytest.skip("the loadtest extra (locust) is not installed", allow_module_level=True)

from loadtests.run import TypeResult, build_parser, judge, locust_command, parse_bounds, read_stats, resolve
from loadtests.traffic import error_code, parse_mix

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = REPO_ROOT / "loadtests" / "run.py"
SHORT = ["--scenario", "smoke", "--run-time", "6s", "--users", "3", "--target-rps", "12"]


def run_runner(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    completed = subprocess.run(
        [sys.executable, str(RUNNER), *SHORT, "--reports", str(tmp_path), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(reports) == 1, completed.stdout + completed.stderr
    return completed, reports[0]


@pytest.mark.slow
def test_a_healthy_run_passes_and_writes_reports(tmp_path: Path) -> None:
    completed, report = run_runner(tmp_path, "--workers", "2", "--sample-rss", "2")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for name in ("locust_stats.csv", "locust_failures.csv", "report.html", "summary.json", "server.log", "rss.csv"):
        assert (report / name).is_file(), name
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"]["passed"] is True
    assert summary["total"]["requests"] > 0 and summary["total"]["failures"] == 0
    assert {row["name"] for row in summary["results"]} <= {"single", "batch", "thread", "perspective", "openai"}
    assert "single" in {row["name"] for row in summary["results"]}
    assert len([pid for pid in summary["rss_mib"] if summary["rss_mib"][pid]]) == 3  # supervisor + 2 workers
    for line in ("p50 ms", "p95 ms", "p99 ms", "req/s", "PASS"):
        assert line in completed.stdout
    log = (report / "server.log").read_text()
    assert "stupid" not in log and '"text"' not in log  # production logs never carry comment text


@pytest.mark.slow
def test_a_wrong_api_key_fails_the_run(tmp_path: Path) -> None:
    completed, report = run_runner(tmp_path, "--workers", "1", "--api-key", "not-the-server-key")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"]["passed"] is False
    assert summary["verdict"]["error_rate"] == 1.0
    assert "FAIL" in completed.stdout
    with (report / "locust_failures.csv").open(newline="") as handle:
        errors = {row["Error"] for row in csv.DictReader(handle)}
    assert errors and all("401" in error for error in errors)


# --- pure functions --------------------------------------------------------------------------------------


def result(name: str, requests: int, failures: int, p99: float, bound: float | None = None) -> TypeResult:
    return TypeResult(name, requests, failures, 1.0, p99 / 2, p99, p99, p99, bound)


def test_judge_fails_on_error_rate_and_on_each_p99_bound() -> None:
    rows = [result("single", 1000, 1, 8.0, 10.0), result("batch", 100, 0, 30.0, None)]
    assert judge(rows, result("Aggregated", 1100, 1, 30.0), 0.001).passed
    failing = judge(rows, result("Aggregated", 1100, 2, 30.0), 0.001)
    assert not failing.passed and "error rate" in failing.reasons[0]
    slow = judge([result("single", 1000, 0, 11.0, 10.0)], result("Aggregated", 1000, 0, 11.0), 0.001)
    assert not slow.passed and "single: p99 11 ms exceeds 10 ms" in slow.reasons
    assert not judge([], result("Aggregated", 0, 0, 0.0), 0.001).passed  # nothing ran: not a pass


def test_bounds_and_scenarios_resolve() -> None:
    assert parse_bounds(["10"], {}) == {"*": 10.0}
    assert parse_bounds(["10", "batch=60"], {"single": 1.0}) == {"*": 10.0, "batch": 60.0}
    assert parse_bounds(None, {"single": 1.0}) == {"single": 1.0}
    args, bounds = resolve(build_parser().parse_args(["--scenario", "sla"]))
    assert (args.users, args.target_rps, args.run_time, args.mix) == (30, 300.0, "60s", "single=1")
    assert args.max_error_rate == 0.0 and bounds == {"single": 10.0}
    args, _ = resolve(build_parser().parse_args(["--scenario", "sla", "-u", "5", "--max-error-rate", "0.5"]))
    assert (args.users, args.max_error_rate) == (5, 0.5)


def test_read_stats_takes_per_type_rows_and_the_aggregate(tmp_path: Path) -> None:
    header = (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%"
    )
    lines = [
        header,
        "POST,single,900,0,3,3.5,1,40,300,15.0,0,3,4,4,5,6,7,8,9,20,40,40",
        "POST,batch,0,0,0,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A",
        ",Aggregated,900,0,3,3.5,1,40,300,15.0,0,3,4,4,5,6,7,8,9,20,40,40",
    ]
    path = tmp_path / "stats.csv"
    path.write_text("\n".join(lines) + "\n")
    rows, total = read_stats(path, {"*": 10.0, "batch": 50.0})
    assert [(r.name, r.requests, r.p50_ms, r.p95_ms, r.p99_ms, r.p99_bound_ms) for r in rows[:1]] == [
        ("single", 900, 3.0, 7.0, 9.0, 10.0)
    ]
    assert rows[1].p99_bound_ms == 50.0 and rows[1].p99_ms != rows[1].p99_ms  # NaN for an idle type
    assert total is not None and total.requests == 900


def test_mix_and_error_codes() -> None:
    assert parse_mix("single=60,batch=10") == {"single": 60.0, "batch": 10.0}
    assert parse_mix("single") == {"single": 1.0}
    with pytest.raises(ValueError, match="unknown request type"):
        parse_mix("singel=1")
    with pytest.raises(ValueError):
        parse_mix("single=0")
    assert error_code(b'{"error": {"code": "unauthenticated", "message": "x"}}') == "unauthenticated"
    perspective = b'{"error": {"code": 401, "details": [{"errorType": "UNAUTHENTICATED"}]}}'
    assert error_code(perspective) == "UNAUTHENTICATED"
    assert error_code(b'{"error": {"code": "invalid_api_key", "type": "invalid_request_error"}}') == "invalid_api_key"
    assert error_code(b"<html>bad gateway</html>") == "<html>bad gateway</html>"


def test_server_side_latency_from_histogram_deltas() -> None:
    from loadtests.run import latency_delta

    before = {("/v1/moderate", 0.005): 10.0, ("/v1/moderate", 0.01): 10.0, ("/v1/moderate", float("inf")): 10.0}
    after = {("/v1/moderate", 0.005): 100.0, ("/v1/moderate", 0.01): 109.0, ("/v1/moderate", float("inf")): 110.0}
    figures = latency_delta(before, after)["/v1/moderate"]
    assert figures["requests"] == 100
    assert figures["within_5ms"] == 0.9 and figures["within_10ms"] == 0.99
    assert figures["p50_le_ms"] == 5.0 and figures["p99_le_ms"] == 10.0


@pytest.mark.parametrize("key", ["-starts-with-a-dash", "plain_key", ""])
def test_the_api_key_reaches_locust_whatever_its_first_character(key: str, tmp_path: Path) -> None:
    """The runner's key is random (``secrets.token_urlsafe``), so one run in 64 drew a key starting with "-":
    passed as a separate argument, locust's argparse took it for an option and the run failed."""
    import argparse

    args, _ = resolve(build_parser().parse_args(["--scenario", "smoke"]))
    command = locust_command(args, "http://127.0.0.1:1", key, tmp_path)
    locust_options = argparse.ArgumentParser()
    locust_options.add_argument("--api-key")
    parsed, _ = locust_options.parse_known_args(command[3:])
    assert parsed.api_key == key
