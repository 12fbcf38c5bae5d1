"""Hot reload under load on real servers: admin endpoint and SIGHUP, one and two worker processes."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.settings import Settings
from tests.service.bundles import build_bundle, set_current
from tests.service.conftest import TestClient
from tests.service.server import ServerProcess
from tests.traffic import Traffic

pytestmark = pytest.mark.slow  # starts its own servers (two of them multi-process)

def model_info(base_url: str) -> dict[tuple[str, str], float]:
    """(version, pid) -> value of threadguard_model_info (pid is '' outside multiprocess mode)."""
    values: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{base_url}/metrics").text):
        for sample in family.samples:
            if sample.name == "threadguard_model_info":
                values[(sample.labels["version"], sample.labels.get("pid", ""))] = sample.value
    return values


@pytest.fixture
def two_workers(models: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path / "server.log",
        args=["--model", str(models), "--workers", "2"],
        env={"THREADGUARD_RELOAD_POLL_SECONDS": "0.2"},
    ).start()
    yield proc
    proc.stop()


def test_reload_twice_under_load_across_two_workers(two_workers: ServerProcess, models: Path) -> None:
    load = Traffic(two_workers.base_url, fresh_connections=True).start()  # every worker gets traffic
    try:
        load.wait_for("1.0.0")

        set_current(models, "2.0.0")
        reloaded = httpx.post(f"{two_workers.base_url}/v1/admin/reload", timeout=60.0)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["model"]["version"] == "2.0.0"
        load.wait_for("2.0.0")

        set_current(models, "3.0.0")
        two_workers.signal(signal.SIGHUP)  # to the supervisor: published to both workers
        load.wait_for("3.0.0")

        # a broken bundle is rejected by the admin endpoint and by every worker on SIGHUP
        build_bundle(models / "4.0.0", "4.0.0", output_columns=3)
        set_current(models, "4.0.0")
        rejected = httpx.post(f"{two_workers.base_url}/v1/admin/reload", timeout=60.0)
        assert rejected.status_code == 422 and rejected.json()["error"]["code"] == "model_rejected"
        two_workers.signal(signal.SIGHUP)
        time.sleep(1.0)  # several poll intervals: the workers have seen (and rejected) the published bundle
        load.wait_for("3.0.0")
    finally:
        load.stop()

    assert load.failures == []
    assert {"1.0.0", "2.0.0", "3.0.0"} <= set(load.versions) and "4.0.0" not in load.versions
    first = {v: load.versions.index(v) for v in ("1.0.0", "2.0.0", "3.0.0")}
    assert first["1.0.0"] < first["2.0.0"] < first["3.0.0"]
    live = model_info(two_workers.base_url)
    serving_v3 = {pid for (version, pid), value in live.items() if version == "3.0.0" and value == 1.0}
    assert len(serving_v3) == 2, live  # both worker processes swapped
    assert "Traceback" not in two_workers.logs()


def test_sighup_reloads_a_single_worker_under_load(models: Path, tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "single.log", args=["--model", str(models)]).start()
    load = Traffic(proc.base_url, threads=1, fresh_connections=True).start()
    try:
        load.wait_for("1.0.0", consecutive=10)
        set_current(models, "2.0.0")
        proc.signal(signal.SIGHUP)
        load.wait_for("2.0.0", consecutive=10)
        set_current(models, "3.0.0")
        assert httpx.post(f"{proc.base_url}/v1/admin/reload", json={}, timeout=60.0).status_code == 200
        load.wait_for("3.0.0", consecutive=10)
    finally:
        load.stop()
        assert proc.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a graceful shutdown
    assert "Application shutdown complete" in proc.logs()
    assert load.failures == []
    assert {"1.0.0", "2.0.0", "3.0.0"} <= set(load.versions)


def test_admin_reload_of_an_explicit_bundle(models: Path, tmp_path: Path) -> None:
    with TestClient(create_app(Settings(model=models))) as client:
        swapped = client.post("/v1/admin/reload", json={"model": str(models / "3.0.0")})
        assert swapped.status_code == 200
        assert swapped.json()["previous"]["version"] == "1.0.0"
        assert swapped.json()["model"]["version"] == "3.0.0"
        missing = client.post("/v1/admin/reload", json={"model": str(tmp_path / "nowhere")})
        assert missing.status_code == 422 and "nowhere" in missing.json()["error"]["message"]
        wrong = client.post("/v1/admin/reload", json={"model": 5})
        assert wrong.status_code == 422
        assert client.get("/readyz").json()["model"]["version"] == "3.0.0"
