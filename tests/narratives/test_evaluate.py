"""training.narratives.evaluate with synthetic scorers whose right answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.narratives import NARRATIVE_LABELS
from training.narratives.evaluate import (
    binary_report,
    choose_thresholds,
    evaluate,
    load_dev_set,
    load_minimal_pairs,
    minimal_pair_win_rate,
)


def _oracle(dev: pd.DataFrame):
    """Scores each dev text by its gold label (and the endorsed pair texts above the reporting ones)."""
    lookup = {
        text: {label: float(row[label]) for label in NARRATIVE_LABELS} for text, row in dev.set_index("text").iterrows()
    }
    pairs = load_minimal_pairs()
    for text in pairs["endorsed"]:
        lookup[text] = dict.fromkeys(NARRATIVE_LABELS, 0.9)
    for text in pairs["reporting"]:
        lookup[text] = dict.fromkeys(NARRATIVE_LABELS, 0.1)

    def score(texts):
        return {label: np.array([lookup[t][label] for t in texts]) for label in NARRATIVE_LABELS}

    return score


def test_binary_report_arithmetic() -> None:
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.6, 0.3, 0.05, 0.04, 0.03])
    report = binary_report(y, s, threshold=0.5)
    assert report["flagged"] == 4
    assert report["precision"] == pytest.approx(0.75)
    assert report["recall"] == pytest.approx(0.6)
    assert report["roc_auc"] == pytest.approx(0.84)  # 21 of 25 positive-negative pairs ordered correctly
    assert binary_report(y[:6], s[:6], None)["roc_auc"] is None  # one negative: too few for an AUC
    assert "precision" not in binary_report(y, s, None)


def test_evaluate_with_an_oracle() -> None:
    dev = load_dev_set()
    result = evaluate(_oracle(dev), thresholds=dict.fromkeys(NARRATIVE_LABELS, 0.5), pair_labels=NARRATIVE_LABELS)
    assert result["dev_items"] == len(dev)
    assert 0 < result["pattern_free_items"] < len(dev)
    for label in NARRATIVE_LABELS:
        for subset in ("all", "pattern_free"):
            metrics = result["labels"][label][subset]
            assert metrics["roc_auc"] == pytest.approx(1.0)
            assert metrics["precision"] == pytest.approx(1.0) and metrics["recall"] == pytest.approx(1.0)
        assert result["minimal_pairs"][label]["win_rate"] == pytest.approx(1.0)
        assert result["minimal_pairs"][label]["losses"] == []


def test_evaluate_with_an_inverted_scorer() -> None:
    dev = load_dev_set()
    oracle = _oracle(dev)

    def inverted(texts):
        return {label: 1.0 - scores for label, scores in oracle(texts).items()}

    result = evaluate(inverted)
    assert result["labels"]["atrocity_denial"]["all"]["roc_auc"] == pytest.approx(0.0)
    assert result["minimal_pairs"]["atrocity_denial"]["win_rate"] == pytest.approx(0.0)
    assert len(result["minimal_pairs"]["atrocity_denial"]["losses"]) == len(load_minimal_pairs())


def test_ties_count_as_losses() -> None:
    pairs = load_minimal_pairs().head(10)
    constant = minimal_pair_win_rate(
        lambda texts: {"atrocity_denial": np.full(len(texts), 0.5)}, pairs, "atrocity_denial"
    )
    assert constant["wins"] == 0 and constant["win_rate"] == 0.0


def test_choose_thresholds_reaches_the_recall() -> None:
    dev = load_dev_set()
    rng = np.random.default_rng(0)
    noisy = {label: dev[label].to_numpy() * 0.5 + rng.random(len(dev)) * 0.6 for label in NARRATIVE_LABELS}
    by_text = {text: i for i, text in enumerate(dev["text"])}

    def score(texts):
        idx = [by_text[t] for t in texts]
        return {label: values[idx] for label, values in noisy.items()}

    thresholds = choose_thresholds(score, review_recall=0.8)
    for label in NARRATIVE_LABELS:
        y = dev[label].to_numpy()
        recall = (noisy[label][y == 1] >= thresholds[label]).mean()
        assert recall >= 0.8
        assert recall < 0.85  # the highest such threshold, not an arbitrary low one
