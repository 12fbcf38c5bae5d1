"""Per-label linear classifiers that generalise across sources, and their probability calibration.

Sources define a label differently and have very different base rates (Davidson is 83% "offensive", OLID
33%). A plain pooled logistic regression learns n-grams that identify the *source* as a proxy for its base
rate. :class:`SourceAwareLogisticRegression` gives every source its own intercept column during training so
base-rate differences are absorbed there, and weights sources so no single large one dominates; at inference
the source columns are replaced by their training-weighted mean (the source of a new comment is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, SGDClassifier


def source_balanced_weights(sources: np.ndarray, balance: float) -> np.ndarray:
    """Row weights ``(n_s / mean n)^-balance``: 0 keeps natural proportions, 1 makes every source equal."""
    _names, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    per_source = (counts / counts.mean()) ** (-balance)
    weights = per_source[inverse]
    return weights * (len(weights) / weights.sum())


class SourceAwareLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2 logistic regression with per-source intercepts absorbed at training time.

    ``solver="sgd"`` (default) runs a fixed number of epochs of stochastic gradient descent on the log loss:
    measured here 25x faster than liblinear at equal validation ROC-AUC (toxicity 0.907 vs 0.904), which is
    what makes the leave-one-source-out table affordable. ``random_state`` makes it reproducible.
    """

    def __init__(self, alpha: float = 1e-5, epochs: int = 5, solver: str = "sgd", C: float = 4.0,
                 source_balance: float = 0.5, source_intercepts: bool = True, random_state: int = 0,
                 class_weight: str | None = None) -> None:
        self.alpha = alpha
        self.class_weight = class_weight
        self.epochs = epochs
        self.solver = solver
        self.C = C
        self.source_balance = source_balance
        self.source_intercepts = source_intercepts
        self.random_state = random_state

    def _estimator(self) -> SGDClassifier | LogisticRegression:
        if self.solver == "sgd":
            return SGDClassifier(loss="log_loss", alpha=self.alpha, max_iter=self.epochs, tol=None,
                                 random_state=self.random_state, class_weight=self.class_weight)
        if self.solver == "liblinear":
            return LogisticRegression(C=self.C, solver="liblinear", tol=1e-3, class_weight=self.class_weight)
        raise ValueError(f"unknown solver {self.solver!r} (sgd or liblinear)")

    def fit(self, X: sp.csr_matrix, y: np.ndarray, sources: np.ndarray,
            sample_weight: np.ndarray | None = None) -> SourceAwareLogisticRegression:
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) != 2:
            raise ValueError("training rows for a label need both positives and negatives")
        weights = source_balanced_weights(np.asarray(sources), self.source_balance)
        if sample_weight is not None:
            weights = weights * np.asarray(sample_weight)
        names, codes = np.unique(np.asarray(sources), return_inverse=True)
        design = X
        if self.source_intercepts and names.size > 1:
            indicator = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)),
                                      shape=(len(codes), names.size))
            design = sp.hstack([X, indicator], format="csr")
        model = self._estimator()
        model.fit(design, y, sample_weight=weights)
        n_features = X.shape[1]
        self.coef_ = model.coef_[0, :n_features].copy()
        offsets = model.coef_[0, n_features:]
        mean_offset = float(np.average(offsets, weights=np.bincount(codes, weights=weights))) if offsets.size else 0.0
        self.intercept_ = float(model.intercept_[0]) + mean_offset
        self.source_offsets_ = dict(zip(names.tolist(), (offsets - mean_offset).tolist(), strict=False))
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])


@dataclass(frozen=True)
class PlattCalibration:
    """``p = sigmoid(slope * logit + offset)``; folded into the linear model's weights at export."""

    slope: float
    offset: float

    @classmethod
    def fit(cls, logits: np.ndarray, y: np.ndarray) -> PlattCalibration:
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) != 2:
            return cls(1.0, 0.0)
        model = LogisticRegression(C=1e4, solver="lbfgs")
        model.fit(np.asarray(logits).reshape(-1, 1), y)
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]))

    def apply(self, weights: np.ndarray, bias: float) -> tuple[np.ndarray, float]:
        return weights * self.slope, bias * self.slope + self.offset
