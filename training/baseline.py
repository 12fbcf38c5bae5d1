"""The comparison baseline: plain word TF-IDF + logistic regression, sources naively pooled.

This is what most teams would build first; the model card shows the shipped recipe against it on the
leave-one-source-out table, because generalising to unseen platforms is what independent evaluation measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


class PooledTfidfBaseline:
    """One TfidfVectorizer (word 1-2 grams, sublinear tf) and one LogisticRegression per label."""

    def __init__(self, max_features: int | None = 300_000, C: float = 4.0) -> None:
        self.max_features = max_features
        self.C = C

    def fit(self, train: pd.DataFrame, labels: Sequence[str]) -> PooledTfidfBaseline:
        self.labels_ = list(labels)
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                           max_features=self.max_features)
        X = self.vectorizer_.fit_transform(train["text"].tolist())
        self.models_: dict[str, LogisticRegression | None] = {}
        for label in self.labels_:
            known = train[label].notna().to_numpy()
            y = train[label].to_numpy()[known].astype(int)
            if known.sum() == 0 or len(np.unique(y)) < 2:
                self.models_[label] = None
                continue
            self.models_[label] = LogisticRegression(C=self.C, solver="liblinear").fit(X[known], y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        X = self.vectorizer_.transform(list(texts))
        out = np.zeros((X.shape[0], len(self.labels_)))
        for j, label in enumerate(self.labels_):
            model = self.models_[label]
            if model is not None:
                out[:, j] = model.predict_proba(X)[:, 1]
        return out
