"""Leave-one-source-out evaluation: for each source, train on all the others and score that one.

Both the shipped recipe and the pooled baseline go through the same folds, so the comparison is like for like.
A source is scored on all its rows (it took no part in training), for each label it annotates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.baseline import PooledTfidfBaseline
from training.metrics import binary_metrics, macro_roc_auc
from training.ngram_counts import NgramCounts
from training.pipeline import PipelineSettings, fit_pipeline

Progress = Callable[[str], None]


def _fold_metrics(held_out: pd.DataFrame, scores: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    out = {}
    for j, label in enumerate(labels):
        known = held_out[label].notna().to_numpy()
        if known.any():
            out[label] = binary_metrics(held_out[label].to_numpy()[known], scores[known, j])
    return out


def leave_one_source_out(
    frame: pd.DataFrame,
    labels: Sequence[str],
    settings: PipelineSettings,
    *,
    sources: Sequence[str] | None = None,
    include_baseline: bool = True,
    counts: NgramCounts | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """{"model": {source: {label: metrics}}, "baseline": {...}, "macro": {"model": x, "baseline": y}}.

    ``counts``: n-gram counts of ``frame`` (row positions = ``frame.index``); computed here when absent.
    """
    say = progress or (lambda _: None)
    frame = frame.reset_index(drop=True) if counts is None else frame
    if counts is None:
        counts = NgramCounts.from_texts(frame["text"].tolist(), settings.featurizer)
    sources = list(sources or sorted(frame["source"].unique()))
    model_table: dict[str, dict[str, Any]] = {}
    baseline_table: dict[str, dict[str, Any]] = {}
    for source in sources:
        held_out = frame[frame["source"] == source]
        rest = frame[frame["source"] != source]
        train, calibration = rest[rest["split"] == "train"], rest[rest["split"] == "val"]
        say(f"leave-one-source-out: {source} ({len(held_out):,} rows held out)")
        fitted = fit_pipeline(train, calibration, labels, settings, counts=counts)
        held_out_matrix = fitted.vectorizer.transform_counts(counts, held_out.index.to_numpy())
        model_table[source] = _fold_metrics(held_out, fitted.score_matrix(held_out_matrix), labels)
        if include_baseline:
            baseline = PooledTfidfBaseline(max_features=settings.max_features, C=settings.C).fit(train, labels)
            baseline_table[source] = _fold_metrics(held_out, baseline.predict_proba(held_out["text"].tolist()),
                                                   labels)
    result: dict[str, Any] = {"model": model_table, "macro": {"model": macro_roc_auc(model_table)}}
    if include_baseline:
        result["baseline"] = baseline_table
        result["macro"]["baseline"] = macro_roc_auc(baseline_table)
    return result
