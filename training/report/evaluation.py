"""Evaluate bundles for a comparison: the same validation rows and the same templates for every model.

Everything here runs the shipped artefact (``model.onnx`` through onnxruntime), as ``threadguard evaluate``
does, so the numbers are what the service would do. The results feed both the report (plots, Markdown, HTML,
JSON) and the promotion gate.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from threadguard.bundle import ModelBundle
from training.bias import TemplateSet, bias_report
from training.bias.templates import display_path
from training.config import TrainingConfig
from training.corpus import Corpus, build_corpus
from training.metrics import MIN_PER_CLASS, label_metrics
from training.train import measure_latency, onnx_scores

Progress = Callable[[str], None]
CALIBRATION_BINS = 10

# bundles are immutable and named by their ONNX sha256, so template scores can be reused within a process
_TEMPLATE_SCORES: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_TEMPLATE_CACHE_SIZE = 8


@dataclass
class EvaluationData:
    """The rows every bundle of one comparison is scored on."""

    frame: pd.DataFrame
    split: str
    config_path: str | None
    data_root: str | None

    @property
    def texts(self) -> list[str]:
        return self.frame["text"].tolist()

    def describe(self) -> dict[str, Any]:
        sources = self.frame["source"].value_counts().sort_index()
        return {
            "config": display_path(self.config_path),
            "data_root": display_path(self.data_root),
            "split": self.split,
            "rows": len(self.frame),
            "rows_per_source": {str(k): int(v) for k, v in sources.items()},
        }


def load_evaluation_data(
    config: TrainingConfig,
    *,
    data_root: str | Path | None = None,
    corpus: Corpus | None = None,
    split: str = "val",
    progress: Progress | None = None,
) -> EvaluationData:
    corpus = corpus or build_corpus(config, data_root=data_root, progress=progress)
    frame = corpus.frame[corpus.frame["split"] == split].reset_index(drop=True)
    return EvaluationData(
        frame=frame,
        split=split,
        config_path=str(config.path) if config.path else None,
        data_root=str(corpus.data_root) if corpus.data_root else None,
    )


@dataclass
class BundleEvaluation:
    """One bundle scored on the evaluation rows (and on the bias templates)."""

    bundle: ModelBundle
    labels: list[str]  # the bundle's labels that the evaluation data knows
    scores: np.ndarray  # [rows, len(labels)]
    metrics: dict[str, Any]  # training.metrics.label_metrics: pooled and per source, rounded
    roc_auc: dict[str, float | None]  # pooled, unrounded (what the gate compares)
    operating_points: dict[str, Any]
    calibration: dict[str, Any]
    latency: dict[str, float] | None = None
    bias: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def known(self, data: EvaluationData, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(y, scores) over the rows whose ``label`` is known."""
        column = data.frame[label].to_numpy()
        mask = ~np.isnan(column.astype(np.float64))
        return column[mask].astype(int), self.scores[mask, self.labels.index(label)]

    def describe(self) -> dict[str, Any]:
        manifest = self.bundle.manifest
        return {
            "name": self.bundle.name,
            "version": self.bundle.version,
            "path": display_path(self.bundle.path),
            "onnx_sha256": manifest.onnx.sha256,
            "created_at": manifest.created_at,
            "code_version": manifest.code_version,
            "labels": list(manifest.labels),
        }


def exact_roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC when both classes have at least ``MIN_PER_CLASS`` rows (as the model card), else None."""
    positives = int(y.sum())
    if positives < MIN_PER_CLASS or y.size - positives < MIN_PER_CLASS:
        return None
    return float(roc_auc_score(y, scores))


def operating_points(y: np.ndarray, scores: np.ndarray, thresholds: dict[str, float | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level, threshold in thresholds.items():
        if threshold is None:
            out[level] = None
            continue
        flagged = scores >= threshold
        out[level] = {
            "threshold": threshold,
            "flagged_share": round(float(flagged.mean()), 4) if y.size else None,
            "precision": round(float(y[flagged].mean()), 4) if flagged.any() else None,
            "recall": round(float(flagged[y == 1].mean()), 4) if (y == 1).any() else None,
        }
    return out


def calibration_bins(y: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Equal-width reliability bins and the expected calibration error (count-weighted |mean score - rate|)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        if n == 0:
            rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": 0, "mean_score": None,
                         "positive_rate": None})
            continue
        mean_score, rate = float(scores[mask].mean()), float(y[mask].mean())
        ece += n * abs(mean_score - rate)
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": n,
                     "mean_score": round(mean_score, 4), "positive_rate": round(rate, 4)})
    return {"ece": round(ece / max(y.size, 1), 4), "bins": rows}


def measure_latencies(evaluations: list[BundleEvaluation], data: EvaluationData, rounds: int = 2) -> None:
    """Latency of every model, measured back to back and repeated: the minimum over rounds of each median, so
    models compared in one report saw the same machine load (a busy machine inflates a single measurement)."""
    texts = data.texts[:100] or ["hello"]
    sessions = [ev.bundle.onnx_path.read_bytes() for ev in evaluations]
    for _ in range(rounds):
        for ev, onnx_bytes in zip(evaluations, sessions, strict=True):
            measured = measure_latency(onnx_bytes, texts)
            if ev.latency is None:
                ev.latency = measured
            else:
                ev.latency = {
                    "single_ms_p50": min(ev.latency["single_ms_p50"], measured["single_ms_p50"]),
                    "batch100_ms_p50": min(ev.latency["batch100_ms_p50"], measured["batch100_ms_p50"]),
                    "batch100_comments_per_s": max(ev.latency["batch100_comments_per_s"],
                                                   measured["batch100_comments_per_s"]),
                }


def template_scores(bundle: ModelBundle, templates: TemplateSet, texts: list[str]) -> np.ndarray:
    key = (bundle.manifest.onnx.sha256, templates.sha256)
    if key in _TEMPLATE_SCORES:
        _TEMPLATE_SCORES.move_to_end(key)
        return _TEMPLATE_SCORES[key]
    scores = onnx_scores(bundle.onnx_path.read_bytes(), texts, batch_size=512)
    _TEMPLATE_SCORES[key] = scores
    while len(_TEMPLATE_SCORES) > _TEMPLATE_CACHE_SIZE:
        _TEMPLATE_SCORES.popitem(last=False)
    return scores


def evaluate_model(
    bundle: ModelBundle,
    data: EvaluationData,
    *,
    templates: TemplateSet | None = None,
    latency: bool = True,
    progress: Progress | None = None,
) -> BundleEvaluation:
    """Score ``bundle`` on the evaluation rows; metrics, operating points, calibration, latency and bias."""
    say = progress or (lambda _: None)
    labels = [label for label in bundle.labels if label in data.frame.columns]
    say(f"{bundle.name} {bundle.version}: scoring {len(data.frame):,} {data.split} rows")
    onnx_bytes = bundle.onnx_path.read_bytes()
    if len(data.frame):
        all_scores = onnx_scores(onnx_bytes, data.texts, batch_size=512)
    else:
        all_scores = np.zeros((0, len(bundle.labels)), dtype=np.float32)
    scores = all_scores[:, [bundle.labels.index(label) for label in labels]]
    metrics = label_metrics(data.frame, scores, labels)
    evaluation = BundleEvaluation(bundle=bundle, labels=labels, scores=scores, metrics=metrics, roc_auc={},
                                  operating_points={}, calibration={})
    for label in labels:
        y, s = evaluation.known(data, label)
        if y.size == 0:
            continue
        evaluation.roc_auc[label] = exact_roc_auc(y, s)
        th = bundle.manifest.thresholds[label]
        evaluation.operating_points[label] = operating_points(y, s, {"review": th.review, "block": th.block})
        evaluation.calibration[label] = calibration_bins(y, s)
    if latency:
        say(f"{bundle.name} {bundle.version}: measuring latency")
        evaluation.latency = measure_latency(onnx_bytes, data.texts[:100] or ["hello"])
    if templates is not None:
        say(f"{bundle.name} {bundle.version}: scoring {templates.size:,} bias template sentences")
        frame = templates.expand()
        t_scores = template_scores(bundle, templates, frame["text"].tolist())
        reviews = {label: bundle.manifest.thresholds[label].review for label in bundle.labels}
        evaluation.bias = bias_report(templates, bundle.labels, t_scores, reviews, frame=frame)
    return evaluation
