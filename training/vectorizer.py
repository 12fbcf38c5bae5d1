"""scikit-learn style vectorizer over the shared hashed n-gram featurizer.

``fit`` chooses the vocabulary (n-grams in at least ``min_df`` training texts, the ``max_features`` most
frequent) and smooth idf; ``transform`` returns the exact TF-IDF matrix the ONNX graph computes. The
``*_counts`` variants work from precomputed :class:`~training.ngram_counts.NgramCounts`, so cross-validation
folds do not featurize the same texts again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from threadguard.featurizer import FeaturizerParams
from training.ngram_counts import NgramCounts


class HashedNgramVectorizer(TransformerMixin, BaseEstimator):
    """Texts -> sparse TF-IDF (L2 over occurrences, see FeaturizerParams) over hashed character and word n-grams."""

    def __init__(
        self,
        params: FeaturizerParams | None = None,
        min_df: int = 2,
        max_features: int | None = 300_000,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.params = params
        self.min_df = min_df
        self.max_features = max_features
        self.progress = progress

    @property
    def params_(self) -> FeaturizerParams:
        return self.params or FeaturizerParams()

    def count(self, texts: Sequence[str]) -> NgramCounts:
        return NgramCounts.from_texts(texts, self.params_, progress=self.progress)

    def fit(self, texts: Sequence[str], y: object = None) -> HashedNgramVectorizer:
        counts = self.count(texts)
        return self.fit_counts(counts, np.arange(counts.n_rows))

    def fit_counts(self, counts: NgramCounts, positions: np.ndarray) -> HashedNgramVectorizer:
        """Choose the vocabulary from the texts at ``positions`` of ``counts``."""
        if len(positions) == 0:
            raise ValueError("cannot fit a vocabulary on zero texts")
        df = counts.document_frequency(positions)
        keep = np.nonzero(df >= self.min_df)[0]
        if self.max_features is not None and keep.size > self.max_features:
            # most frequent first, ties broken by key so the choice is deterministic
            order = np.lexsort((counts.keys[keep], -df[keep]))[: self.max_features]
            keep = np.sort(keep[order])
        self.vocabulary_ = counts.keys[keep].astype(np.int64)
        self.idf_ = np.log((1.0 + len(positions)) / (1.0 + df[keep])) + 1.0
        self.n_distinct_ngrams_ = int(np.count_nonzero(df))
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = self.count(texts)
        return self.transform_counts(counts, np.arange(counts.n_rows))

    def transform_counts(self, counts: NgramCounts, positions: np.ndarray) -> sp.csr_matrix:
        return counts.tfidf_matrix(positions, self.vocabulary_, self.idf_, self.params_)
