"""`threadguard train`: config -> corpus -> fitted pipeline -> thresholds -> ONNX -> verified bundle.

Before a bundle is written the ONNX graph is run over the whole validation split and compared with the
reference computation; a bundle whose graph disagrees by more than 1e-5 is never written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd

from threadguard import code_version
from threadguard.bundle import ModelBundle, write_bundle
from training.config import TrainingConfig
from training.corpus import Corpus, build_corpus
from training.export import export_bytes
from training.loso import leave_one_source_out
from training.metrics import label_metrics
from training.model_card import render_model_card
from training.narratives import NARRATIVE_LABELS
from training.ngram_counts import NgramCounts
from training.pipeline import FittedPipeline, PipelineSettings, fit_pipeline
from training.thresholds import ThresholdRule, choose_thresholds

Progress = Callable[[str], None]
PARITY_TOLERANCE = 1e-5


class ExportParityError(RuntimeError):
    """The ONNX graph does not reproduce the reference scores."""


def onnx_scores(onnx_bytes: bytes, texts: list[str], batch_size: int = 256) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    parts = [session.run(["scores"], {"text": np.array(texts[i : i + batch_size], dtype=object)})[0]
             for i in range(0, len(texts), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def measure_latency(onnx_bytes: bytes, texts: list[str], repeats: int = 20) -> dict[str, float]:
    """Median single-comment and batch-of-100 latency of the graph on this machine (one thread)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    batch = np.array((texts * (100 // max(len(texts), 1) + 1))[:100], dtype=object)
    session.run(["scores"], {"text": batch})
    singles, batches = [], []
    for i in range(repeats * 5):
        start = time.perf_counter()
        session.run(["scores"], {"text": batch[i % 100 : i % 100 + 1]})
        singles.append(time.perf_counter() - start)
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(["scores"], {"text": batch})
        batches.append(time.perf_counter() - start)
    return {
        "single_ms_p50": round(float(np.median(singles)) * 1e3, 3),
        "batch100_ms_p50": round(float(np.median(batches)) * 1e3, 3),
        "batch100_comments_per_s": round(100 / float(np.median(batches))),
    }


def _thresholds(config: TrainingConfig, val: pd.DataFrame, scores: np.ndarray) -> dict[str, Any]:
    raw = config.thresholds
    rule = ThresholdRule.from_config(raw)
    out: dict[str, Any] = {}
    for j, label in enumerate(config.labels):
        info = config.model.label_info.get(label)
        known = val[label].notna().to_numpy()
        if known.sum() == 0:
            out[label] = {"review": 0.5, "block": None}
            continue
        out[label] = choose_thresholds(scores[known, j], val[label].to_numpy()[known], rule,
                                       experimental=bool(info and info.experimental))
    return {"rule": rule.__dict__, "per_label": out}


def _operating_points(val: pd.DataFrame, scores: np.ndarray, labels: list[str],
                      thresholds: dict[str, Any]) -> dict[str, Any]:
    """Validation precision and recall at each label's chosen thresholds."""
    points: dict[str, Any] = {}
    for j, label in enumerate(labels):
        known = val[label].notna().to_numpy()
        y = val[label].to_numpy()[known].astype(int)
        s = scores[known, j]
        entry = {}
        for level in ("review", "block"):
            threshold = thresholds[label][level]
            if threshold is None or y.sum() == 0:
                continue
            flagged = s >= threshold
            entry[level] = {
                "threshold": threshold,
                "precision": round(float(y[flagged].mean()), 4) if flagged.any() else None,
                "recall": round(float(flagged[y == 1].mean()), 4),
            }
        points[label] = entry
    return points


def narrative_sources(config: TrainingConfig) -> set[str]:
    """Sources that annotate narrative labels directly (not only through labeling functions)."""
    return {source.name for source in config.sources
            if set(source.labels) & set(NARRATIVE_LABELS) and not source.option("labeling_functions", False)}


def narrative_evaluation(score_fn: Callable[[Sequence[str]], dict[str, np.ndarray]], narrative_labels: list[str],
                         thresholds: dict[str, Any], ordinary_texts: list[str],
                         max_review_rate: float) -> dict[str, Any]:
    """Experimental narrative labels get their review thresholds from the hand-written development set (kept
    out of training, written for comment-style text) instead of the validation split, whose positives are
    analyst claim summaries; the report covers the whole set, its pattern-free subset and the minimal pairs.

    The development set is a quarter positive; real comment streams are not. So the threshold is also raised
    until at most ``max_review_rate`` of ordinary validation comments (the toxicity sources) would be sent to
    review: without that cap the recall rule flagged 17-22% of ordinary comments.

    ``score_fn`` maps texts to ``{label: scores}`` (the exported graph here; the in-memory model in
    ``training.narratives.experiment``). ``thresholds["per_label"]`` receives the chosen thresholds.
    """
    from training.narratives.evaluate import evaluate, load_dev_set

    dev = load_dev_set()
    dev_scores = score_fn(dev["text"].tolist())
    rule = ThresholdRule(**thresholds["rule"])
    ordinary = score_fn(ordinary_texts) if ordinary_texts else None
    caps = {}
    for label in narrative_labels:
        chosen = choose_thresholds(dev_scores[label], dev[label].to_numpy(), rule, experimental=True)
        if ordinary is not None:
            cap = float(np.quantile(ordinary[label], 1.0 - max_review_rate))
            caps[label] = {"ordinary_comments": len(ordinary_texts), "max_review_rate": max_review_rate,
                           "volume_threshold": cap, "recall_threshold": chosen["review"]}
            recall_threshold = chosen["review"] if chosen["review"] is not None else cap
            chosen["review"] = math.ceil(max(recall_threshold, cap) * 1e6) / 1e6
            caps[label]["ordinary_review_rate"] = round(float((ordinary[label] >= chosen["review"]).mean()), 4)
        thresholds["per_label"][label] = chosen
    review = {label: thresholds["per_label"][label]["review"] for label in narrative_labels}
    result = evaluate(score_fn, thresholds=review, labels=narrative_labels, dev=dev)
    result["review_volume_cap"] = caps
    return result


def train_bundle(
    config: TrainingConfig,
    out_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    corpus: Corpus | None = None,
    loso: bool | None = None,
    version: str | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> ModelBundle:
    say = progress or (lambda _: None)
    started = time.perf_counter()
    corpus = corpus or build_corpus(config, data_root=data_root, progress=say)
    labels = config.labels
    frame = corpus.frame.reset_index(drop=True)
    train, val = frame[frame["split"] == "train"], frame[frame["split"] == "val"]
    say(f"corpus: {len(train):,} training and {len(val):,} validation rows from {frame['source'].nunique()} sources")
    settings = PipelineSettings.from_config(config.featurizer, config.classifier)
    say(f"counting n-grams of {len(frame):,} texts")
    counts = NgramCounts.from_texts(frame["text"].tolist(), settings.featurizer, progress=say)
    fitted: FittedPipeline = fit_pipeline(train, val, labels, settings, progress=say, counts=counts)

    say("exporting ONNX and checking parity over the validation split")
    onnx_bytes = export_bytes(fitted.model)
    val_texts = val["text"].tolist()
    reference = fitted.model.predict_proba(val_texts)
    exported = onnx_scores(onnx_bytes, val_texts)
    parity = float(np.abs(exported - reference).max()) if len(val_texts) else 0.0
    if parity > PARITY_TOLERANCE:
        raise ExportParityError(f"ONNX differs from the reference by {parity:.2e} (> {PARITY_TOLERANCE})")
    say(f"parity: max |onnx - reference| = {parity:.2e} over {len(val_texts):,} texts")

    metrics = label_metrics(val, reference, labels)
    thresholds = _thresholds(config, val, reference)
    narrative_labels = [label for label in labels if label in NARRATIVE_LABELS]
    if narrative_labels:
        say("narrative labels: thresholds on the hand-written development set, minimal pairs")
        ordinary = val[~val["source"].isin(narrative_sources(config))]["text"].tolist()

        def onnx_score_fn(texts: Sequence[str]) -> dict[str, np.ndarray]:
            scores = onnx_scores(onnx_bytes, list(texts))
            return {label: scores[:, j] for j, label in enumerate(labels)}

        metrics["narratives"] = narrative_evaluation(
            onnx_score_fn, narrative_labels, thresholds, ordinary,
            float(config.thresholds.get("experimental_max_review_rate", 0.01)))
    metrics["operating_points"] = _operating_points(val, reference, labels, thresholds["per_label"])
    metrics["onnx_parity_max_abs_diff"] = parity
    metrics["latency"] = measure_latency(onnx_bytes, val_texts[:100] or ["hello"])
    run_loso = bool(config.classifier.get("leave_one_source_out", True)) if loso is None else loso
    if run_loso:
        metrics["leave_one_source_out"] = leave_one_source_out(frame, labels, settings, counts=counts,
                                                               progress=say)

    manifest_fields: dict[str, Any] = {
        "name": config.model.name,
        "version": version or config.model.version,
        "labels": labels,
        "label_info": {k: v.model_dump() for k, v in config.model.label_info.items()},
        "thresholds": thresholds["per_label"],
        "featurizer": {**settings.featurizer.to_manifest(), "vocabulary_size": int(fitted.model.vocabulary.size)},
        "metrics": {"validation": metrics},
        "datasets": [record.model_dump() for record in corpus.datasets],
        "training": {
            "config": str(config.path) if config.path else None,
            "settings": settings.describe(),
            "threshold_rule": thresholds["rule"],
            "label_rows": fitted.label_rows,
            "augmentation": {"reported_copies": corpus.augmented},
            "calibration": {k: {"slope": v.slope, "offset": v.offset} for k, v in fitted.calibration.items()},
            "source_offsets": fitted.source_offsets,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "onnx": {"opset": 18},
        "code_version": code_version(),
    }
    card = render_model_card(manifest_fields, corpus)
    bundle = write_bundle(out_dir, manifest_fields=manifest_fields, onnx_bytes=onnx_bytes, model_card=card,
                          overwrite=overwrite)
    say(f"wrote {bundle.path} in {time.perf_counter() - started:.0f}s")
    return bundle
