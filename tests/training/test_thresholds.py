"""Threshold rules hold their promises on the data they were chosen on."""

from __future__ import annotations

import numpy as np

from training.thresholds import ThresholdRule, choose_thresholds, precision_at


def _data(positives: int, negatives: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.beta(5, 2, positives), rng.beta(2, 5, negatives)])
    return scores, np.concatenate([np.ones(positives, int), np.zeros(negatives, int)])


def test_review_keeps_recall_and_block_reaches_precision() -> None:
    scores, y = _data(500, 500)
    th = choose_thresholds(scores, y, ThresholdRule())
    assert (scores[y == 1] >= th["review"]).mean() >= 0.8
    assert th["block"] is not None and th["block"] >= th["review"]
    assert precision_at(scores, y, th["block"]) >= 0.9


def test_rare_label_review_threshold_rises_to_the_precision_floor() -> None:
    scores, y = _data(40, 4000)
    recall_only = choose_thresholds(scores, y, ThresholdRule(review_min_precision=0.0))
    assert precision_at(scores, y, recall_only["review"]) < 0.3
    th = choose_thresholds(scores, y, ThresholdRule())
    assert th["review"] > recall_only["review"]
    assert precision_at(scores, y, th["review"]) >= 0.3


def test_experimental_labels_never_block_and_unreachable_precision_means_no_block() -> None:
    scores, y = _data(500, 500)
    assert choose_thresholds(scores, y, ThresholdRule(), experimental=True)["block"] is None
    noise = np.random.default_rng(1).random(1000)
    labels = (np.random.default_rng(2).random(1000) < 0.5).astype(int)
    assert choose_thresholds(noise, labels, ThresholdRule())["block"] is None


def test_rule_from_config_reads_the_thresholds_table_and_keeps_defaults() -> None:
    rule = ThresholdRule.from_config({"review_recall": 0.7, "min_block_support": "5"})
    assert rule == ThresholdRule(review_recall=0.7, min_block_support=5)
    assert ThresholdRule.from_config({}) == ThresholdRule()
