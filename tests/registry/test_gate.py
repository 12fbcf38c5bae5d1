"""The promotion gate on trained n-gram candidates: it refuses a worse or a biased model, --force is recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from threadguard.bundle import ModelBundle
from threadguard.cli import main
from training.promote import PromotionError, evaluate_and_gate, load_gate_config
from training.registry import ModelRegistry

Candidate = Callable[[str], ModelBundle]


def _promote_args(bundle: ModelBundle, root: Path, config: Path, data_root: Path, *extra: str) -> list[str]:
    return ["promote", str(bundle.path), "--models-root", str(root), "--config", str(config),
            "--data-root", str(data_root), "--user", "ana", *extra]


def test_gate_refuses_a_worse_candidate_and_force_records_the_reason(
    tmp_path: Path, candidate: Candidate, config_paths: dict[str, Path], data_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, config = tmp_path / "models", config_paths["base"]
    current, worse = candidate("1.1.0"), candidate("2.0.0")
    assert main(_promote_args(current, root, config, data_root)) == 0
    registry = ModelRegistry.for_model(current.name, root)
    capsys.readouterr()

    assert main(_promote_args(worse, root, config, data_root)) == 1
    out, err = capsys.readouterr()
    assert "promotion refused" in err
    assert "[FAIL] toxicity val ROC-AUC" in out and "may drop at most 0.005" in out
    assert registry.current() == "1.1.0" and len(registry.history()) == 1
    assert not (registry.path / "2.0.0").exists()  # a refused candidate never enters the registry

    assert main(_promote_args(worse, root, config, data_root, "--force")) == 1
    assert "--force needs --reason" in capsys.readouterr().err
    assert registry.current() == "1.1.0"

    reason = "new labelling guideline; the old validation labels are known to be wrong"
    assert main(_promote_args(worse, root, config, data_root, "--force", "--reason", reason)) == 0
    assert registry.current() == "2.0.0"
    entry = registry.history()[-1]
    assert (entry["action"], entry["from"], entry["to"], entry["forced"], entry["reason"]) == (
        "promote", "1.1.0", "2.0.0", True, reason)
    assert entry["gate"]["passed"] is False
    assert any(line.startswith("toxicity val ROC-AUC") for line in entry["gate"]["failed"])
    drop = entry["gate"]["roc_auc"]["toxicity"]
    assert drop["baseline"] - drop["candidate"] > 0.005
    markdown = (registry.path / "HISTORY.md").read_text(encoding="utf-8")
    assert "| promote (forced) | 1.1.0 | 2.0.0 | ana | FAILED: toxicity val ROC-AUC" in markdown
    assert reason in markdown


def test_gate_accepts_a_better_candidate_and_honours_the_configured_tolerance(
    tmp_path: Path, candidate: Candidate, config_paths: dict[str, Path], data_root: Path,
) -> None:
    older, better, worse = candidate("1.0.0"), candidate("1.1.0"), candidate("2.0.0")
    defaults = load_gate_config()
    assert defaults.max_auc_drop == 0.005 and defaults.bias_enabled
    gate = evaluate_and_gate(better, older, defaults, config_path=config_paths["base"], data_root=data_root)
    assert gate.passed, gate.format()
    aucs = [c for c in gate.checks if c.name == "roc_auc"]
    assert len(aucs) == 3 and all(c.delta is not None and c.delta > 0 for c in aucs)
    assert sum(c.name.startswith("bias.") for c in gate.checks) == 2 * 8  # 2 labels x (3 AUCs x 2 + FPR x 2)

    lenient = tmp_path / "gate.toml"
    lenient.write_text("[gate]\nmax_auc_drop = 0.9\n[gate.bias]\nenabled = false\n", encoding="utf-8")
    config = load_gate_config(lenient)
    assert evaluate_and_gate(worse, better, config, config_path=config_paths["base"], data_root=data_root).passed
    strict = load_gate_config(lenient, max_auc_drop=0.005)  # a flag overrides the file
    assert not evaluate_and_gate(worse, better, strict, config_path=config_paths["base"], data_root=data_root).passed

    lenient.write_text("[gate]\nmax_auc_dorp = 0.9\n", encoding="utf-8")
    with pytest.raises(PromotionError, match="unknown \\[gate\\] key 'max_auc_dorp'"):
        load_gate_config(lenient)


def test_gate_refuses_a_candidate_biased_against_identity_mentions(
    tmp_path: Path, candidate: Candidate, config_paths: dict[str, Path], data_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Trained on extra data that calls neutral mentions of groups hateful: it scores as well on its own
    validation data, but harmless identity mentions are flagged more often."""
    current, biased = candidate("1.1.0"), candidate("2.1.0")
    config = config_paths["biased"]
    # the smear rows shift document frequencies, which moves insult's ROC-AUC on this small synthetic validation
    # set by up to ~0.01; a 0.02 tolerance keeps the point of the test: the AUC checks pass, the bias checks fail
    gate = evaluate_and_gate(biased, current, load_gate_config(max_auc_drop=0.02), config_path=config,
                             data_root=data_root)
    assert not gate.passed
    assert all(c.passed for c in gate.checks if c.name == "roc_auc"), gate.format()
    failed = {(c.label, c.name) for c in gate.checks if not c.passed}
    assert ("toxicity", "bias.fpr.mean") in failed and ("toxicity", "bias.bpsn_auc.mean") in failed

    root = tmp_path / "models"
    assert main(_promote_args(current, root, config, data_root)) == 0
    assert main(_promote_args(biased, root, config, data_root, "--max-fpr-increase", "0.5")) == 1
    out = capsys.readouterr().out
    assert "[FAIL] toxicity FPR on non-toxic identity mentions, mean" not in out  # the flag loosened that check
    assert "[FAIL] toxicity bias bpsn_auc mean" in out  # the others still hold
    assert ModelRegistry.for_model(current.name, root).current() == "1.1.0"
    fpr = {c.label: (c.baseline, c.candidate) for c in gate.checks if c.name == "bias.fpr.mean"}
    assert fpr["toxicity"][1] > fpr["toxicity"][0] + 0.02


def test_evaluate_model_still_reports_one_bundle(
    tmp_path: Path, candidate: Candidate, config_paths: dict[str, Path], data_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = candidate("1.1.0")
    out = tmp_path / "metrics.json"
    args = ["evaluate", "--model", str(bundle.path), "--config", str(config_paths["base"]), "--data", str(data_root)]
    assert main([*args, "--json", str(out)]) == 0
    assert "tg-test 1.1.0 on" in capsys.readouterr().out
    assert set(json.loads(out.read_text(encoding="utf-8"))["pooled"]) == {"toxicity", "identity_attack", "insult"}
    assert main([*args, "--candidate", str(bundle.path)]) == 2
