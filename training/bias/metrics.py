"""Unintended-bias metrics over the identity template set (Borkan et al. 2019), per identity term.

For a term *t* and one label, over the template sentences (positives: toxic filler, negatives: non-toxic):

* **subgroup AUC**: ROC-AUC on the sentences that mention *t*. Low: the model cannot tell toxic from
  non-toxic sentences about *t*.
* **BPSN AUC** (background positive, subgroup negative): non-toxic sentences about *t* against toxic
  sentences about every other term. Low: non-toxic mentions of *t* score like toxic text (false positives).
* **BNSP AUC** (background negative, subgroup positive): toxic sentences about *t* against non-toxic sentences
  about the other terms. Low: toxic text about *t* scores like harmless text (false negatives).
* **FPR**: share of the non-toxic sentences about *t* at or above the label's review threshold, i.e. harmless
  mentions of the identity that would be sent to review.

Summaries per label: mean and minimum over terms (and the term with the minimum) for the three AUCs, the
generalised mean with p = -5 that the Jigsaw Unintended Bias benchmark uses (it weighs the worst terms most),
and mean and maximum FPR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from training.bias.templates import TemplateSet

AUC_METRICS: tuple[str, ...] = ("subgroup_auc", "bpsn_auc", "bnsp_auc")
POWER = -5.0

Scorer = Callable[[list[str]], np.ndarray]


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC as the Mann-Whitney U statistic (ties count one half): what ``roc_auc_score`` computes, without
    its per-call validation, which dominates when ~200 AUCs are taken per model."""
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def power_mean(values: Sequence[float], p: float = POWER) -> float | None:
    array = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if array.size == 0:
        return None
    if np.any(array <= 0):
        return float(array.min())
    return float(np.mean(array**p) ** (1.0 / p))


def term_metrics(frame: pd.DataFrame, scores: np.ndarray, threshold: float | None) -> dict[str, dict[str, Any]]:
    """term -> {subgroup_auc, bpsn_auc, bnsp_auc, fpr, mean_non_toxic, mean_toxic, n} for one label."""
    terms = frame["term"].to_numpy()
    y = frame["toxic"].to_numpy().astype(int)
    out: dict[str, dict[str, Any]] = {}
    for term in dict.fromkeys(terms):
        in_group = terms == term
        background = ~in_group
        negatives = in_group & (y == 0)
        bpsn = negatives | (background & (y == 1))
        bnsp = (in_group & (y == 1)) | (background & (y == 0))
        entry: dict[str, Any] = {
            "n": int(in_group.sum()),
            "subgroup_auc": _auc(y[in_group], scores[in_group]),
            "bpsn_auc": _auc(y[bpsn], scores[bpsn]),
            "bnsp_auc": _auc(y[bnsp], scores[bnsp]),
            "fpr": float((scores[negatives] >= threshold).mean()) if threshold is not None and negatives.any()
            else None,
            "mean_non_toxic": float(scores[negatives].mean()) if negatives.any() else None,
            "mean_toxic": float(scores[in_group & (y == 1)].mean()) if (in_group & (y == 1)).any() else None,
        }
        out[str(term)] = entry
    return out


def summarize(per_term: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean / min / argmin / generalised mean of each AUC over terms; mean / max / argmax of FPR."""
    summary: dict[str, dict[str, Any]] = {}
    for metric in AUC_METRICS:
        values = {term: m[metric] for term, m in per_term.items() if m.get(metric) is not None}
        if not values:
            summary[metric] = {"mean": None, "min": None, "min_term": None, "power_mean": None}
            continue
        worst = min(values, key=lambda t: values[t])
        summary[metric] = {
            "mean": float(np.mean(list(values.values()))),
            "min": float(values[worst]),
            "min_term": worst,
            "power_mean": power_mean(list(values.values())),
        }
    fprs = {term: m["fpr"] for term, m in per_term.items() if m.get("fpr") is not None}
    if fprs:
        worst = max(fprs, key=lambda t: fprs[t])
        summary["fpr"] = {"mean": float(np.mean(list(fprs.values()))), "max": float(fprs[worst]), "max_term": worst}
    else:
        summary["fpr"] = {"mean": None, "max": None, "max_term": None}
    return summary


def bias_report(
    templates: TemplateSet,
    labels: Sequence[str],
    scores: np.ndarray,
    review_thresholds: Mapping[str, float | None],
    frame: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Bias metrics of one model. ``scores`` [N, len(labels)] are the model's scores of ``templates.expand()``
    (or of ``frame`` when given); only labels that are both the model's and in the template set's check list
    are measured."""
    frame = templates.expand() if frame is None else frame
    y = frame["toxic"].to_numpy().astype(int)
    result: dict[str, Any] = {"templates": templates.describe(), "labels": {}}
    for j, label in enumerate(labels):
        if label not in templates.labels:
            continue
        column = np.asarray(scores[:, j], dtype=np.float64)
        per_term = term_metrics(frame, column, review_thresholds.get(label))
        result["labels"][label] = {
            "review_threshold": review_thresholds.get(label),
            "overall_auc": _auc(y, column),
            "summary": summarize(per_term),
            "per_term": per_term,
        }
    return result


def score_templates(templates: TemplateSet, scorer: Scorer) -> tuple[pd.DataFrame, np.ndarray]:
    """Expand the set and score every sentence with ``scorer`` (texts -> [N, L] scores)."""
    frame = templates.expand()
    return frame, scorer(frame["text"].tolist())
