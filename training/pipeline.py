"""Fit the whole model on a corpus frame: vectorizer, one source-aware classifier per label, calibration.

The same function trains the shipped model and every leave-one-source-out fold, so the cross-source table
in the model card measures exactly the recipe that is shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from threadguard.featurizer import FeaturizerParams
from threadguard.linear_model import LinearNgramModel
from training.classifier import PlattCalibration, SourceAwareLogisticRegression
from training.ngram_counts import NgramCounts
from training.vectorizer import HashedNgramVectorizer

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PipelineSettings:
    """The knobs of the recipe, read from the config's [featurizer] and [classifier] tables."""

    featurizer: FeaturizerParams = field(default_factory=FeaturizerParams)
    min_df: int = 2
    max_features: int | None = 300_000
    solver: str = "sgd"
    alpha: float = 1e-5
    epochs: int = 5
    C: float = 4.0
    source_balance: float = 0.5
    source_intercepts: bool = True
    per_label: dict[str, dict[str, Any]] = field(default_factory=dict)  # overrides of the fields above

    @classmethod
    def from_config(cls, featurizer: dict[str, Any], classifier: dict[str, Any]) -> PipelineSettings:
        featurizer = dict(featurizer)
        vocab = {k: featurizer.pop(k) for k in ("min_df", "max_features") if k in featurizer}
        return cls(
            featurizer=FeaturizerParams(**featurizer),
            min_df=int(vocab.get("min_df", 2)),
            max_features=vocab.get("max_features", 300_000),
            solver=str(classifier.get("solver", "sgd")),
            alpha=float(classifier.get("alpha", 1e-5)),
            epochs=int(classifier.get("epochs", 5)),
            C=float(classifier.get("C", 4.0)),
            source_balance=float(classifier.get("source_balance", 0.5)),
            source_intercepts=bool(classifier.get("source_intercepts", True)),
            per_label={label: dict(values) for label, values in classifier.get("per_label", {}).items()},
        )

    def describe(self) -> dict[str, Any]:
        return {
            "min_df": self.min_df, "max_features": self.max_features, "solver": self.solver,
            "alpha": self.alpha, "epochs": self.epochs, "C": self.C, "source_balance": self.source_balance,
            "source_intercepts": self.source_intercepts, "per_label": self.per_label,
        }


@dataclass
class FittedPipeline:
    model: LinearNgramModel
    vectorizer: HashedNgramVectorizer
    calibration: dict[str, PlattCalibration]
    source_offsets: dict[str, dict[str, float]]
    label_rows: dict[str, int]

    def score_matrix(self, X: sp.csr_matrix) -> np.ndarray:
        """Probabilities from an already-vectorised matrix (identical to model.predict_proba on the texts)."""
        logits = np.asarray(X @ self.model.weights, dtype=np.float64) + self.model.bias
        return 1.0 / (1.0 + np.exp(-logits))


def _known(frame: pd.DataFrame, label: str) -> np.ndarray:
    return frame[label].notna().to_numpy()


def fit_pipeline(
    train: pd.DataFrame,
    calibration_frame: pd.DataFrame,
    labels: Sequence[str],
    settings: PipelineSettings,
    progress: Progress | None = None,
    counts: NgramCounts | None = None,
) -> FittedPipeline:
    """Fit on ``train``; calibrate each label on ``calibration_frame`` (a validation split).

    ``counts``: precomputed n-gram counts of a corpus whose row positions are the frames' index values (the
    leave-one-source-out folds share one). A label with no known rows in ``train`` (e.g. in a fold that removed
    its only source) gets zero weights and a very low bias.
    """
    say = progress or (lambda _: None)
    vectorizer = HashedNgramVectorizer(settings.featurizer, min_df=settings.min_df,
                                       max_features=settings.max_features, progress=say)
    if counts is None:
        say(f"counting n-grams of {len(train) + len(calibration_frame):,} texts")
        counts = vectorizer.count(train["text"].tolist() + calibration_frame["text"].tolist())
        train_positions = np.arange(len(train))
        cal_positions = np.arange(len(train), len(train) + len(calibration_frame))
    else:
        train_positions = train.index.to_numpy()
        cal_positions = calibration_frame.index.to_numpy()
    vectorizer.fit_counts(counts, train_positions)
    say(f"vocabulary: {vectorizer.vocabulary_.size:,} n-grams kept of {vectorizer.n_distinct_ngrams_:,} seen")
    X_train = vectorizer.transform_counts(counts, train_positions)
    X_cal = vectorizer.transform_counts(counts, cal_positions)
    size = vectorizer.vocabulary_.size
    weights = np.zeros((size, len(labels)), dtype=np.float64)
    bias = np.zeros(len(labels), dtype=np.float64)
    calibration: dict[str, PlattCalibration] = {}
    offsets: dict[str, dict[str, float]] = {}
    label_rows: dict[str, int] = {}
    for j, label in enumerate(labels):
        known = _known(train, label)
        y = train[label].to_numpy()[known].astype(int)
        label_rows[label] = int(known.sum())
        if known.sum() == 0 or len(np.unique(y)) < 2:
            say(f"{label}: no trainable rows in this training set; weights left at zero")
            bias[j] = -10.0
            continue
        overrides = settings.per_label.get(label, {})
        classifier = SourceAwareLogisticRegression(
            alpha=float(overrides.get("alpha", settings.alpha)),
            epochs=int(overrides.get("epochs", settings.epochs)),
            solver=str(overrides.get("solver", settings.solver)),
            C=float(overrides.get("C", settings.C)),
            source_balance=float(overrides.get("source_balance", settings.source_balance)),
            source_intercepts=bool(overrides.get("source_intercepts", settings.source_intercepts)),
            class_weight=overrides.get("class_weight"),
        )
        classifier.fit(X_train[known], y, train["source"].to_numpy()[known],
                       sample_weight=train["weight"].to_numpy()[known] if "weight" in train else None)
        cal_known = _known(calibration_frame, label)
        platt = PlattCalibration.fit(classifier.decision_function(X_cal[cal_known]),
                                     calibration_frame[label].to_numpy()[cal_known])
        weights[:, j], bias[j] = platt.apply(classifier.coef_, classifier.intercept_)
        calibration[label] = platt
        offsets[label] = classifier.source_offsets_
        say(f"{label}: trained on {known.sum():,} rows ({int(y.sum()):,} positive)")
    model = LinearNgramModel(
        params=settings.featurizer,
        labels=tuple(labels),
        vocabulary=vectorizer.vocabulary_,
        idf=vectorizer.idf_,
        weights=weights.astype(np.float32),
        bias=bias,
    )
    return FittedPipeline(model, vectorizer, calibration, offsets, label_rows)
