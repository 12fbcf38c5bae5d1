"""Per-label decision thresholds chosen on validation data.

``review``: the highest threshold that still catches ``review_recall`` of the positives (default 0.8), so
reviewers see most of what matters — unless precision there is below ``review_min_precision`` (default 0.3).
For rare labels (threat, profanity) the recall rule alone would send mostly clean comments to people (measured:
profanity 9% precision at 80% recall); then the threshold rises to the lowest score whose precision reaches the
floor, and the model card shows the recall that leaves.

``block``: the lowest threshold whose precision reaches ``block_precision`` (default 0.9) with at least
``min_block_support`` validation items above it, so automatic removal is rarely wrong. When no threshold reaches
that precision the label does not block on its own (``None``). Experimental labels never block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ThresholdRule:
    review_recall: float = 0.8
    review_min_precision: float = 0.3
    block_precision: float = 0.9
    min_block_support: int = 20

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ThresholdRule:
        """The rule from a training config's ``[thresholds]`` table (missing keys keep their defaults)."""
        return cls(
            review_recall=float(raw.get("review_recall", cls.review_recall)),
            review_min_precision=float(raw.get("review_min_precision", cls.review_min_precision)),
            block_precision=float(raw.get("block_precision", cls.block_precision)),
            min_block_support=int(raw.get("min_block_support", cls.min_block_support)),
        )


def review_threshold(scores: np.ndarray, y: np.ndarray, recall: float) -> float:
    """Highest threshold t with recall(t) >= ``recall``."""
    positives = np.sort(scores[y == 1])[::-1]
    if positives.size == 0:
        return 0.5
    index = int(np.ceil(recall * positives.size)) - 1
    return float(positives[min(max(index, 0), positives.size - 1)])


def precision_at(scores: np.ndarray, y: np.ndarray, threshold: float) -> float:
    flagged = scores >= threshold
    return float(y[flagged].mean()) if flagged.any() else 0.0


def lowest_threshold_with_precision(scores: np.ndarray, y: np.ndarray, precision: float,
                                    min_support: int) -> float | None:
    """Lowest threshold t with precision(t) >= ``precision`` over at least ``min_support`` flagged items."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_y = scores[order], y[order]
    true_positives = np.cumsum(sorted_y)
    flagged = np.arange(1, sorted_y.size + 1)
    distinct = np.append(sorted_scores[1:] < sorted_scores[:-1], True)  # only cut between distinct scores
    ok = (true_positives / flagged >= precision) & (flagged >= min_support) & distinct
    if not ok.any():
        return None
    return float(sorted_scores[np.nonzero(ok)[0].max()])


def choose_thresholds(scores: np.ndarray, y: np.ndarray, rule: ThresholdRule, *,
                      experimental: bool = False) -> dict[str, float | None]:
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(int)
    review = review_threshold(scores, y, rule.review_recall)
    if precision_at(scores, y, review) < rule.review_min_precision:
        floor = lowest_threshold_with_precision(scores, y, rule.review_min_precision, rule.min_block_support)
        if floor is not None:
            review = max(review, floor)
    block = None
    if not experimental:
        block = lowest_threshold_with_precision(scores, y, rule.block_precision, rule.min_block_support)
    if block is not None:
        block = max(block, review)
    # review rounds down and block rounds up, so rounding never weakens the recall or precision target
    return {"review": math.floor(review * 1e6) / 1e6, "block": None if block is None else math.ceil(block * 1e6) / 1e6}
