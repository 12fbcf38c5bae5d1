"""The retraining workflow end to end against a real ``threadguard serve`` process under continuous traffic.

Train a small candidate, evaluate it against the current model (report with plots), promote it: the running
server answers with the new version; roll back: the old version again; a bundle the service cannot load is
refused by the service and the pointer is put back. Not one request fails throughout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.service.server import ServerProcess
from tests.traffic import Traffic
from threadguard.bundle import ModelBundle, write_bundle
from threadguard.cli import main
from training.registry import ModelRegistry

pytestmark = pytest.mark.slow  # trains two small models and starts a server (about 20 s)

API_KEY = "e2e-api-key"
ADMIN_KEY = "e2e-admin-key"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _broken_copy(bundle: ModelBundle, directory: Path, version: str) -> ModelBundle:
    """A valid bundle whose manifest names one label more than its graph outputs: the service's probe rejects
    it (wrong output shape), while loading and verifying it on disk succeeds."""
    fields = bundle.manifest.model_dump(mode="json")
    fields.update(version=version, labels=[*bundle.labels, "threat"], created_at=None)
    fields["thresholds"]["threat"] = {"review": 0.5, "block": None}
    fields["onnx"] = {"opset": fields["onnx"]["opset"]}
    del fields["created_at"]
    return write_bundle(directory, manifest_fields=fields, onnx_bytes=bundle.onnx_path.read_bytes(),
                        model_card="# broken on purpose\n")


def test_train_evaluate_promote_and_roll_back_a_live_service(
    tmp_path: Path, candidate: Callable[[str], ModelBundle], config_paths: dict[str, Path], data_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, config = tmp_path / "models", str(config_paths["base"])
    data = ["--config", config, "--data-root", str(data_root), "--models-root", str(root)]
    service = ["--service-url", "", "--admin-key", ADMIN_KEY]
    old, new = candidate("1.0.0"), candidate("1.1.0")
    assert main(["promote", str(old.path), *data, "--user", "ci"]) == 0  # the first version: nothing to gate
    registry = ModelRegistry.for_model(old.name, root)

    server = ServerProcess(tmp_path / "server.log", args=["--model", str(registry.path)],
                           env={"THREADGUARD_API_KEYS": API_KEY, "THREADGUARD_ADMIN_KEYS": ADMIN_KEY}).start()
    service[1] = server.base_url
    traffic = Traffic(server.base_url, api_key=API_KEY,
                      texts=("you are a stupid idiot", "Refugees arrived in the city today"),
                      pause=0.01, consecutive=20, max_seconds=240.0, max_requests=10**9)
    try:
        traffic.start().wait_for("1.0.0")

        report_dir = tmp_path / "report"
        assert main(["evaluate", "--candidate", str(new.path), "--baseline", "current", *data[:-2],
                     "--models-root", str(root), "--report-dir", str(report_dir)]) == 0
        printed = capsys.readouterr().out
        assert "tg-test 1.1.0 against 1.0.0" in printed and "PASSED" in printed

        assert main(["promote", str(new.path), *data, *service, "--user", "ci", "--reason", "weekly retrain"]) == 0
        capsys.readouterr()
        traffic.wait_for("1.1.0")
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": API_KEY}) as client:
            assert client.get("/v1/models").json()["models"][0]["version"] == "1.1.0"

        assert main(["rollback", "--model", old.name, "--models-root", str(root), *service, "--user", "ci",
                     "--reason", "reports of over-blocking"]) == 0
        traffic.wait_for("1.0.0")

        broken = _broken_copy(new, tmp_path / "broken", "1.9.0")
        assert main(["promote", str(broken.path), *data, *service, "--force", "--reason", "try it"]) == 1
        assert "rejected the bundle" in capsys.readouterr().err
        assert registry.current() == "1.0.0" and not (registry.path / "1.9.0").exists()
        traffic.wait_for_more(20)
        traffic.wait_for("1.0.0")
    finally:
        traffic.stop()
        server.stop()

    assert traffic.failures == []
    versions = traffic.versions
    assert versions[0] == "1.0.0" and versions[-1] == "1.0.0" and "1.9.0" not in versions
    switch = versions.index("1.1.0")
    assert set(versions[:switch]) == {"1.0.0"}
    assert "1.0.0" in versions[switch:]  # back after the rollback

    history = registry.history()
    assert [(e["action"], e["from"], e["to"]) for e in history] == [
        ("promote", None, "1.0.0"), ("promote", "1.0.0", "1.1.0"), ("rollback", "1.1.0", "1.0.0")]
    assert history[1]["service"] == {"url": server.base_url, "reloaded": True, "version": "1.1.0",
                                     "reload_generation": history[1]["service"]["reload_generation"]}
    assert history[1]["gate"]["passed"] is True and history[1]["reason"] == "weekly retrain"
    assert history[2]["service"]["version"] == "1.0.0" and history[2]["reason"] == "reports of over-blocking"

    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert report["schema"] == "threadguard-evaluation/1"
    assert (report["models"]["candidate"]["version"], report["models"]["baseline"]["version"]) == ("1.1.0", "1.0.0")
    assert report["gate"]["passed"] is True
    assert report["comparison"]["toxicity"]["roc_auc_delta"] > 0
    assert {row["source"] for row in report["per_source"]} >= {"synthetic-comments"}
    assert report["latency"]["candidate"]["single_ms_p50"] > 0
    assert report["thresholds"]["candidate"]["toxicity"]["review"]["threshold"] == new.manifest.thresholds[
        "toxicity"].review
    assert report["bias"]["templates"]["sentences"] > 10_000 and "toxicity" in report["bias"]["candidate"]
    for name in ("roc.png", "pr.png", "calibration.png", "histograms.png", "roc_toxicity.png", "pr_insult.png"):
        assert (report_dir / name).read_bytes()[:8] == PNG_MAGIC, name
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "![ROC curves per label](roc.png)" in markdown and "| synthetic-comments | toxicity |" in markdown
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 4 and "<table>" in html
