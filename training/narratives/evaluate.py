"""Evaluation of the narrative labels on the hand-written development set and the minimal pairs.

:func:`evaluate` takes any scoring callable ``texts -> {label: scores}`` (the exported ONNX model, the trainer's
in-memory model, a baseline) and returns a JSON-ready dict for the model card:

- per label, on the whole development set and on its *pattern-free* subset (texts containing none of the
  labeling functions' pattern words, see :func:`training.narratives.labeling_functions.pattern_words`):
  ROC-AUC, PR-AUC, and precision/recall at the given threshold;
- the minimal-pair win rate: the share of pairs whose ``endorsed`` text scores strictly higher than its
  ``reporting`` twin (ties count as losses).

The development set is for threshold selection and reporting only; it must never reach training.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from training.narratives import DEV_SET_PATH, MINIMAL_PAIRS_PATH, NARRATIVE_LABELS
from training.narratives.labeling_functions import pattern_free_mask

ScoreFn = Callable[[Sequence[str]], Mapping[str, np.ndarray]]

MIN_PER_CLASS = 5  # below this many positives or negatives an AUC is noise and is reported as None
PAIR_WIN_RATE_TARGET = 0.8


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON: {exc}") from exc
    return rows


def load_dev_set(path: Path = DEV_SET_PATH) -> pd.DataFrame:
    """The development set: ``text``, one 0/1 column per narrative label, optional ``note``."""
    frame = pd.DataFrame(_read_jsonl(path))
    missing = [column for column in ("text", *NARRATIVE_LABELS) if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks fields {missing}")
    for label in NARRATIVE_LABELS:
        frame[label] = frame[label].astype(int)
    return frame


def load_minimal_pairs(path: Path = MINIMAL_PAIRS_PATH) -> pd.DataFrame:
    """The minimal pairs: ``event``, ``endorsed``, ``reporting``."""
    frame = pd.DataFrame(_read_jsonl(path))
    missing = [column for column in ("event", "endorsed", "reporting") if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks fields {missing}")
    return frame


def binary_report(y: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict[str, Any]:
    """Counts, ROC-AUC, PR-AUC and (with a threshold) precision/recall of ``scores >= threshold``."""
    y = np.asarray(y).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(y.sum()), int((1 - y).sum())
    report: dict[str, Any] = {"n": int(y.size), "positives": positives, "roc_auc": None, "pr_auc": None}
    if positives >= MIN_PER_CLASS and negatives >= MIN_PER_CLASS:
        report["roc_auc"] = round(float(roc_auc_score(y, scores)), 4)
        report["pr_auc"] = round(float(average_precision_score(y, scores)), 4)
    if threshold is not None:
        flagged = scores >= threshold
        true_positives = int((flagged & (y == 1)).sum())
        report["threshold"] = float(threshold)
        report["flagged"] = int(flagged.sum())
        report["precision"] = round(true_positives / int(flagged.sum()), 4) if flagged.any() else None
        report["recall"] = round(true_positives / positives, 4) if positives else None
    return report


def minimal_pair_win_rate(score_fn: ScoreFn, pairs: pd.DataFrame, label: str) -> dict[str, Any]:
    """Share of pairs where ``endorsed`` scores strictly higher than ``reporting`` for ``label``."""
    endorsed = np.asarray(score_fn(pairs["endorsed"].tolist())[label], dtype=np.float64)
    reporting = np.asarray(score_fn(pairs["reporting"].tolist())[label], dtype=np.float64)
    wins = endorsed > reporting
    return {
        "label": label,
        "pairs": len(pairs),
        "wins": int(wins.sum()),
        "win_rate": round(float(wins.mean()), 4) if len(pairs) else None,
        "target": PAIR_WIN_RATE_TARGET,
        "mean_margin": round(float((endorsed - reporting).mean()), 4) if len(pairs) else None,
        "losses": [
            {"event": event, "endorsed": round(float(e), 4), "reporting": round(float(r), 4)}
            for event, e, r, won in zip(pairs["event"], endorsed, reporting, wins, strict=True)
            if not won
        ],
    }


def evaluate(
    score_fn: ScoreFn,
    *,
    thresholds: Mapping[str, float | None] | None = None,
    labels: Sequence[str] = NARRATIVE_LABELS,
    dev: pd.DataFrame | None = None,
    pairs: pd.DataFrame | None = None,
    pair_labels: Sequence[str] = ("atrocity_denial",),
) -> dict[str, Any]:
    """Development-set metrics (all and pattern-free) per label and minimal-pair win rates.

    ``thresholds`` maps a label to the decision threshold to report precision/recall at (typically the review
    threshold chosen on this same development set); labels without one get AUCs only.
    """
    dev = load_dev_set() if dev is None else dev
    pairs = load_minimal_pairs() if pairs is None else pairs
    thresholds = thresholds or {}
    texts = dev["text"].tolist()
    scores = score_fn(texts)
    pattern_free = pattern_free_mask(texts)
    result: dict[str, Any] = {
        "dev_items": len(dev),
        "pattern_free_items": int(pattern_free.sum()),
        "labels": {},
        "minimal_pairs": {},
    }
    for label in labels:
        y = dev[label].to_numpy()
        s = np.asarray(scores[label], dtype=np.float64)
        threshold = thresholds.get(label)
        result["labels"][label] = {
            "all": binary_report(y, s, threshold),
            "pattern_free": binary_report(y[pattern_free], s[pattern_free], threshold),
        }
    for label in pair_labels:
        result["minimal_pairs"][label] = minimal_pair_win_rate(score_fn, pairs, label)
    return result


def choose_thresholds(
    score_fn: ScoreFn,
    *,
    labels: Sequence[str] = NARRATIVE_LABELS,
    dev: pd.DataFrame | None = None,
    review_recall: float = 0.8,
) -> dict[str, float]:
    """Review thresholds on the development set: the highest score that still catches ``review_recall`` of the
    positives (the trainer's rule for review thresholds). Experimental labels get no block threshold."""
    dev = load_dev_set() if dev is None else dev
    scores = score_fn(dev["text"].tolist())
    chosen = {}
    for label in labels:
        y = dev[label].to_numpy().astype(int)
        positives = np.sort(np.asarray(scores[label], dtype=np.float64)[y == 1])[::-1]
        if positives.size == 0:
            raise ValueError(f"the development set has no positives for {label!r}")
        index = min(max(int(np.ceil(review_recall * positives.size)) - 1, 0), positives.size - 1)
        chosen[label] = float(positives[index])
    return chosen


def onnx_score_fn(bundle_dir: str | Path | None = None) -> tuple[list[str], ScoreFn]:
    """The labels and a scoring callable of a model bundle (default: the shipped default model)."""
    import onnxruntime as ort

    from threadguard.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(bundle.onnx_path), options, providers=["CPUExecutionProvider"])
    labels = bundle.labels
    input_name = bundle.manifest.onnx.input
    output_name = bundle.manifest.onnx.output

    def score(texts: Sequence[str]) -> dict[str, np.ndarray]:
        if not texts:
            return {label: np.zeros(0, dtype=np.float32) for label in labels}
        (out,) = session.run([output_name], {input_name: np.asarray(list(texts), dtype=object)})
        return {label: out[:, j] for j, label in enumerate(labels)}

    return labels, score
