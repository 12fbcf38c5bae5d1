"""`threadguard evaluate`: score a bundle's ONNX model on the validation split of a training config.

It runs the shipped artefact (model.onnx through onnxruntime), not the Python reference, so what it reports
is what the service will do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from threadguard.bundle import ModelBundle
from training.config import TrainingConfig
from training.corpus import Corpus, build_corpus
from training.metrics import label_metrics
from training.train import onnx_scores

Progress = Callable[[str], None]


def score_bundle(bundle: ModelBundle, texts: list[str]) -> np.ndarray:
    return onnx_scores(bundle.onnx_path.read_bytes(), texts)


def evaluate_bundle(
    bundle: ModelBundle,
    config: TrainingConfig,
    *,
    data_root: str | Path | None = None,
    corpus: Corpus | None = None,
    split: str = "val",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Metrics of ``bundle`` on ``split`` for the labels both the bundle and the config know."""
    corpus = corpus or build_corpus(config, data_root=data_root, progress=progress)
    frame = corpus.frame[corpus.frame["split"] == split]
    labels = [label for label in bundle.labels if label in frame.columns]
    scores = score_bundle(bundle, frame["text"].tolist())
    columns = [bundle.labels.index(label) for label in labels]
    result = label_metrics(frame, scores[:, columns], labels)
    result["model"] = {"name": bundle.name, "version": bundle.version}
    result["rows"] = len(frame)
    return result


def format_metrics(result: dict[str, Any]) -> str:
    lines = [f"{result['model']['name']} {result['model']['version']} on {result['rows']:,} rows",
             f"{'label':<18}{'n':>8}{'pos':>7}{'ROC-AUC':>9}{'PR-AUC':>8}"]
    for label, m in result["pooled"].items():
        lines.append(f"{label:<18}{m['n']:>8}{m['positives']:>7}{m['roc_auc'] or float('nan'):>9.4f}"
                     f"{m['pr_auc'] or float('nan'):>8.4f}")
    return "\n".join(lines)
