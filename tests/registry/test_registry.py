"""The registry on disk: immutable versions, the atomic pointer, the history, promotion and rollback order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.service.bundles import MODEL_NAME, build_bundle
from threadguard.bundle import load_bundle, resolve_bundle_dir
from threadguard.cli import main
from training.promote import GateConfig, PromotionError, promote, rollback
from training.registry import ModelRegistry, RegistryError

NO_BIAS = GateConfig(bias_enabled=False)  # word-weight test bundles: the ROC-AUC part of the gate is enough


def _sha(bundle_dir: Path) -> str:
    return load_bundle(bundle_dir).manifest.onnx.sha256


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    """Three versions of the word-weight test model (scaled weights: same ranking, so the gate passes)."""
    out = {}
    for version, scale in (("1.0.0", 1.0), ("2.0.0", 1.25), ("3.0.0", 1.5)):
        out[version] = build_bundle(tmp_path / "src" / version, version, scale=scale).path
    return out


@pytest.fixture
def gate_kwargs(config_paths: dict[str, Path], data_root: Path) -> dict[str, object]:
    return {"config_path": config_paths["base"], "data_root": data_root, "gate_config": NO_BIAS}


def test_promotions_and_rollbacks_move_the_pointer_and_are_recorded(
    tmp_path: Path, sources: dict[str, Path], gate_kwargs: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "models"
    registry = ModelRegistry.for_model(MODEL_NAME, root)

    first = promote(sources["1.0.0"], models_root=root, user="ana", **gate_kwargs)  # type: ignore[arg-type]
    assert first.gate is None and first.entry["gate"] == {"passed": True, "skipped": "no current version"}
    assert registry.pointer_path.read_bytes() == b"1.0.0\n"
    assert resolve_bundle_dir(registry.path) == registry.path / "1.0.0"  # what the service follows

    for version in ("2.0.0", "3.0.0"):
        outcome = promote(sources[version], models_root=root, user="ana", **gate_kwargs)  # type: ignore[arg-type]
        assert outcome.copied and outcome.gate is not None and outcome.gate.passed
        assert {c.label for c in outcome.gate.checks if c.name == "roc_auc"} == {"toxicity", "identity_attack",
                                                                                 "insult"}
    assert registry.versions() == ["1.0.0", "2.0.0", "3.0.0"] and registry.current() == "3.0.0"
    assert _sha(registry.path / "3.0.0") == _sha(sources["3.0.0"])

    assert rollback(MODEL_NAME, models_root=root, reason="complaints", user="bo").version == "2.0.0"
    assert rollback(MODEL_NAME, models_root=root, user="bo").version == "1.0.0"
    with pytest.raises(PromotionError, match="no earlier promoted version"):
        rollback(MODEL_NAME, models_root=root)
    assert registry.current() == "1.0.0"

    again = promote(sources["3.0.0"], models_root=root, user="ana", **gate_kwargs)  # type: ignore[arg-type]
    assert not again.copied  # the registry already holds exactly this bundle
    with pytest.raises(PromotionError, match="already current"):
        promote(registry.path / "3.0.0", models_root=root, **gate_kwargs)  # type: ignore[arg-type]

    lines = registry.history_path.read_text(encoding="utf-8").splitlines()
    history = [json.loads(line) for line in lines]
    assert [(e["action"], e["from"], e["to"], e["user"]) for e in history] == [
        ("promote", None, "1.0.0", "ana"),
        ("promote", "1.0.0", "2.0.0", "ana"),
        ("promote", "2.0.0", "3.0.0", "ana"),
        ("rollback", "3.0.0", "2.0.0", "bo"),
        ("rollback", "2.0.0", "1.0.0", "bo"),
        ("promote", "1.0.0", "3.0.0", "ana"),
    ]
    assert history[3]["reason"] == "complaints" and history[1]["gate"]["passed"] is True
    assert all(e["time"].endswith("Z") and e["forced"] is False for e in history)
    assert history[1]["gate"]["roc_auc"]["toxicity"]["candidate"] == pytest.approx(
        history[1]["gate"]["roc_auc"]["toxicity"]["baseline"])
    assert registry.served_stack() == ["1.0.0", "3.0.0"]

    markdown = (registry.path / "HISTORY.md").read_text(encoding="utf-8")
    assert "Currently served: **3.0.0**" in markdown
    assert markdown.index("| rollback | 2.0.0 | 1.0.0 |") < markdown.index("| rollback | 3.0.0 | 2.0.0 |")
    assert "complaints" in markdown

    assert main(["models", MODEL_NAME, "--models-root", str(root)]) == 0
    listing = capsys.readouterr().out
    assert "current: 3.0.0" in listing and "* 3.0.0" in listing and "  1.0.0" in listing
    assert "rollback 2.0.0 -> 1.0.0 by bo" in listing
    assert main(["registry", "--models-root", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["current"] == "3.0.0"


def test_rollback_after_a_hand_edited_pointer_needs_an_explicit_version(
    tmp_path: Path, sources: dict[str, Path], gate_kwargs: dict[str, object]
) -> None:
    root = tmp_path / "models"
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        promote(sources[version], models_root=root, **gate_kwargs)  # type: ignore[arg-type]
    registry = ModelRegistry.for_model(MODEL_NAME, root)
    registry.set_current("1.0.0")  # someone edited the pointer without the registry
    with pytest.raises(PromotionError, match="--to VERSION"):
        rollback(MODEL_NAME, models_root=root)
    assert rollback(MODEL_NAME, models_root=root, to="2.0.0", reason="manual").version == "2.0.0"
    build_bundle(registry.path / "4.0.0", "4.0.0")  # present but never served: it must go through the gate
    with pytest.raises(PromotionError, match="never served"):
        rollback(MODEL_NAME, models_root=root, to="4.0.0")
    assert registry.current() == "2.0.0"


def test_a_version_is_immutable(tmp_path: Path, sources: dict[str, Path], gate_kwargs: dict[str, object]) -> None:
    root = tmp_path / "models"
    promote(sources["1.0.0"], models_root=root, **gate_kwargs)  # type: ignore[arg-type]
    promote(sources["2.0.0"], models_root=root, **gate_kwargs)  # type: ignore[arg-type]
    impostor = build_bundle(tmp_path / "other" / "1.0.0", "1.0.0", scale=3.0)  # same version, other weights
    with pytest.raises(PromotionError, match="different bundle"):
        promote(impostor.path, models_root=root, **gate_kwargs)  # type: ignore[arg-type]
    registry = ModelRegistry.for_model(MODEL_NAME, root)
    with pytest.raises(RegistryError, match="different content"):
        registry.add_bundle(impostor.path)
    assert registry.current() == "2.0.0" and len(registry.history()) == 2
    assert _sha(registry.path / "1.0.0") == _sha(sources["1.0.0"])
    with pytest.raises(RegistryError, match="cannot be a registry directory"):
        registry.bundle_dir("current")
    assert not list(registry.path.glob(".incoming-*"))


def test_force_requires_a_reason(tmp_path: Path, sources: dict[str, Path], gate_kwargs: dict[str, object]) -> None:
    with pytest.raises(PromotionError, match="--reason"):
        promote(sources["1.0.0"], models_root=tmp_path / "models", force=True, reason="  ", **gate_kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "models").exists()
