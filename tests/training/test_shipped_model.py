"""The shipped default bundle: its ONNX graph reproduces the reference over the whole validation split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.adversarial import ADVERSARIAL_TEXTS
from threadguard.bundle import load_bundle, sha256_file
from threadguard.linear_model import LinearNgramModel
from training.config import load_config
from training.corpus import build_corpus
from training.train import onnx_scores

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def bundle():
    return load_bundle()


@pytest.fixture(scope="module")
def data_root() -> Path:
    root = load_config(None).resolve_data_root()
    if not root.is_dir():
        pytest.skip(f"training data not available at {root}")
    return root


def test_onnx_matches_reference_over_validation_split_and_adversarial_set(bundle, data_root) -> None:
    corpus = build_corpus(load_config(None), data_root=data_root)
    texts = corpus.frame.loc[corpus.frame["split"] == "val", "text"].tolist() + ADVERSARIAL_TEXTS
    assert len(texts) > 10_000
    reference = LinearNgramModel.from_bundle(bundle).predict_proba(texts)
    exported = onnx_scores(bundle.onnx_path.read_bytes(), texts)
    assert exported.shape == (len(texts), len(bundle.labels))
    assert np.abs(exported - reference).max() <= TOLERANCE


def test_manifest_fingerprints_match_the_data_it_was_trained_on(bundle, data_root) -> None:
    """Reproducibility: every file the manifest lists is present with the recorded sha256."""
    assert bundle.manifest.datasets
    for record in bundle.manifest.datasets:
        for file in record.files:
            assert sha256_file(data_root / file.path) == file.sha256, file.path


def test_manifest_carries_the_contract(bundle) -> None:
    manifest = bundle.manifest
    assert manifest.labels[:6] == ["toxicity", "severe_toxicity", "identity_attack", "insult", "profanity", "threat"]
    for label in manifest.labels:
        thresholds = manifest.thresholds[label]
        assert 0 < thresholds.review < 1
        if manifest.is_experimental(label):
            assert thresholds.block is None, f"experimental {label} must never block"
    validation = manifest.metrics["validation"]
    assert validation["onnx_parity_max_abs_diff"] <= TOLERANCE
    macro = validation["leave_one_source_out"]["macro"]
    assert macro["model"] > macro["baseline"], "the recipe must beat the pooled baseline across sources"
    assert bundle.onnx_path.stat().st_size <= 30 * 1024 * 1024
