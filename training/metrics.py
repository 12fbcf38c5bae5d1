"""Validation metrics: ROC-AUC and PR-AUC per label, pooled and per source, counting only known labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

MIN_PER_CLASS = 5  # fewer positives or negatives than this and an AUC is noise: reported as None


def binary_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    y = np.asarray(y).astype(int)
    positives, negatives = int(y.sum()), int((1 - y).sum())
    result: dict[str, Any] = {"n": int(y.size), "positives": positives, "roc_auc": None, "pr_auc": None}
    if positives >= MIN_PER_CLASS and negatives >= MIN_PER_CLASS:
        result["roc_auc"] = round(float(roc_auc_score(y, scores)), 4)
        result["pr_auc"] = round(float(average_precision_score(y, scores)), 4)
    return result


def label_metrics(frame: pd.DataFrame, scores: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """{"pooled": {label: metrics}, "per_source": {source: {label: metrics}}} over rows with known labels."""
    pooled: dict[str, Any] = {}
    per_source: dict[str, dict[str, Any]] = {}
    sources = frame["source"].to_numpy()
    for j, label in enumerate(labels):
        known = frame[label].notna().to_numpy()
        if not known.any():
            continue
        y = frame[label].to_numpy()[known]
        pooled[label] = binary_metrics(y, scores[known, j])
        for source in np.unique(sources[known]):
            mask = known & (sources == source)
            per_source.setdefault(str(source), {})[label] = binary_metrics(frame[label].to_numpy()[mask],
                                                                           scores[mask, j])
    return {"pooled": pooled, "per_source": per_source}


def macro_roc_auc(per_source: dict[str, dict[str, Any]]) -> float | None:
    """Mean ROC-AUC over (source, label) pairs that have one."""
    values = [m["roc_auc"] for labels in per_source.values() for m in labels.values() if m.get("roc_auc") is not None]
    return round(float(np.mean(values)), 4) if values else None
