"""Fixtures for the registry / gate / report tests: a data root, configs and lazily trained candidates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.registry.synthetic import build_config, make_data_root
from threadguard.bundle import ModelBundle, load_bundle
from training.train import train_bundle

MODEL = "tg-test"

# version -> what its training config adds (see tests/registry/synthetic.py)
CANDIDATES: dict[str, dict[str, object]] = {
    "1.0.0": {"synthetic": "synthetic/comments-noisy.jsonl"},  # an older model trained on noisier labels
    "1.1.0": {},  # the base recipe: better than 1.0.0 on every label
    "1.2.0": {"reviewer": True},  # 1.1.0's data plus reviewer corrections
    "2.0.0": {"synthetic": "synthetic/comments-flipped.jsonl"},  # deliberately worse: 45% of labels flipped
    "2.1.0": {"extra_files": ["synthetic/smear.jsonl"]},  # biased: neutral identity mentions labelled hate
}


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_root(tmp_path_factory.mktemp("registry-data"))


@pytest.fixture(scope="session")
def config_paths(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Training configs as files (for the command line): the base recipe, with reviewer labels, biased."""
    directory = tmp_path_factory.mktemp("registry-configs")
    paths = {}
    for name, extra in (("base", {}), ("reviewer", {"reviewer": True}),
                        ("biased", {"extra_files": ["synthetic/smear.jsonl"]})):
        paths[name] = directory / f"{name}.toml"
        build_config(data_root, name=MODEL, path=paths[name], **extra)  # type: ignore[arg-type]
    return paths


@pytest.fixture(scope="session")
def candidate(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ModelBundle]:
    """``candidate("1.1.0")``: that candidate bundle, trained on first use (a few seconds each)."""
    directory = tmp_path_factory.mktemp("candidates")
    cache: dict[str, ModelBundle] = {}

    def get(version: str) -> ModelBundle:
        if version not in cache:
            config = build_config(data_root, name=MODEL, version=version, **CANDIDATES[version])  # type: ignore[arg-type]
            out = directory / f"candidate-{version}"
            if (out / "manifest.json").exists():
                cache[version] = load_bundle(out)
            else:
                cache[version] = train_bundle(config, out, data_root=data_root, loso=False)
        return cache[version]

    return get
