"""The shipped default model ranks the endorsed text of a minimal pair above its reporting/debunking twin.

Issue 7 "done when": endorsed > reporting for ``atrocity_denial`` in at least 80% of the pairs in
``training/narratives/data/minimal_pairs.jsonl``. The model is run exactly as the service runs it: the bundle's
ONNX graph through onnxruntime (input ``text`` string[N] -> ``scores`` float32[N, L], labels in manifest order).
"""

from __future__ import annotations

import numpy as np
import pytest

from threadguard.bundle import BundleError, load_bundle
from training.narratives.evaluate import PAIR_WIN_RATE_TARGET, load_minimal_pairs

LABEL = "atrocity_denial"


@pytest.fixture(scope="module")
def bundle():
    try:
        return load_bundle()
    except BundleError as exc:
        pytest.skip(f"no shipped default model: {exc}")


def _scores(bundle, texts: list[str]) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(bundle.onnx_path), options, providers=["CPUExecutionProvider"])
    (scores,) = session.run([bundle.manifest.onnx.output], {bundle.manifest.onnx.input: np.array(texts, dtype=object)})
    assert scores.dtype == np.float32 and scores.shape == (len(texts), len(bundle.labels))
    return scores[:, bundle.labels.index(LABEL)]


def test_endorsed_scores_above_reporting(bundle) -> None:
    if LABEL not in bundle.labels:
        pytest.skip(f"the default model {bundle.name} {bundle.version} has no {LABEL!r} label yet")
    assert bundle.manifest.is_experimental(LABEL), "narrative labels must be marked experimental"
    pairs = load_minimal_pairs()
    assert len(pairs) >= 40
    endorsed = _scores(bundle, pairs["endorsed"].tolist())
    reporting = _scores(bundle, pairs["reporting"].tolist())
    wins = endorsed > reporting
    losses = [event for event, won in zip(pairs["event"], wins, strict=True) if not won]
    assert wins.mean() >= PAIR_WIN_RATE_TARGET, (
        f"endorsed > reporting in {wins.sum()}/{len(pairs)} pairs ({wins.mean():.1%}); losses: {losses}"
    )


def test_experimental_label_never_blocks(bundle) -> None:
    if LABEL not in bundle.labels:
        pytest.skip(f"the default model {bundle.name} {bundle.version} has no {LABEL!r} label yet")
    for label in ("atrocity_denial", "conspiracy"):
        if label in bundle.labels:
            assert bundle.manifest.thresholds[label].block is None
