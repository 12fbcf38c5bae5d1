"""scikit-learn style vectorizer over the shared hashed n-gram featurizer.

``fit`` chooses the vocabulary (n-grams in at least ``min_df`` training texts, the ``max_features`` most
frequent) and smooth idf; ``transform`` returns the exact TF-IDF matrix the ONNX graph computes, because both
call :func:`threadguard.linear_model.tfidf`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from threadguard.featurizer import FeaturizerParams, build_stream, extract_ngrams
from threadguard.linear_model import tfidf

_KEY_BITS = 43  # HASH_MODULUS < 2**43, so (row, key) pairs pack into one int64 for chunks < 2**20 rows


class HashedNgramVectorizer(TransformerMixin, BaseEstimator):
    """Texts -> sparse sublinear TF-IDF over hashed character and word n-grams."""

    def __init__(
        self,
        params: FeaturizerParams | None = None,
        min_df: int = 2,
        max_features: int | None = 300_000,
        chunk_size: int = 4096,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.params = params
        self.min_df = min_df
        self.max_features = max_features
        self.chunk_size = chunk_size
        self.progress = progress

    @property
    def params_(self) -> FeaturizerParams:
        return self.params or FeaturizerParams()

    def _chunks(self, texts: Sequence[str]):
        if not 0 < self.chunk_size < 2 ** (63 - _KEY_BITS):
            raise ValueError("chunk_size out of range")
        for start in range(0, len(texts), self.chunk_size):
            yield start, list(texts[start : start + self.chunk_size])

    def fit(self, texts: Sequence[str], y: object = None) -> HashedNgramVectorizer:
        if len(texts) == 0:
            raise ValueError("cannot fit a vocabulary on zero texts")
        chunk_keys, chunk_counts = [], []
        for start, chunk in self._chunks(texts):
            occurrences = extract_ngrams(build_stream(chunk), self.params_)
            per_text = np.unique((occurrences.rows << _KEY_BITS) | occurrences.keys)
            keys, counts = np.unique(per_text & ((1 << _KEY_BITS) - 1), return_counts=True)
            chunk_keys.append(keys)
            chunk_counts.append(counts)
            if self.progress and (start // self.chunk_size) % 10 == 0:
                self.progress(f"vocabulary: counted {start + len(chunk):,}/{len(texts):,} texts")
        keys, inverse = np.unique(np.concatenate(chunk_keys), return_inverse=True)
        df = np.bincount(inverse, weights=np.concatenate(chunk_counts)).astype(np.int64)
        keep = df >= self.min_df
        keys, df = keys[keep], df[keep]
        if self.max_features is not None and keys.size > self.max_features:
            order = np.lexsort((keys, -df))[: self.max_features]  # most frequent first, ties by key
            keys, df = keys[order], df[order]
            order = np.argsort(keys)
            keys, df = keys[order], df[order]
        self.vocabulary_ = keys.astype(np.int64)
        self.idf_ = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        self.n_distinct_ngrams_ = int(keep.size)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        blocks = []
        for _, chunk in self._chunks(texts):
            occurrences = extract_ngrams(build_stream(chunk), self.params_)
            feats = tfidf(occurrences, len(chunk), self.vocabulary_, self.idf_, self.params_)
            blocks.append(
                sp.csr_matrix((feats.values, (feats.rows, feats.ids)), shape=(len(chunk), self.vocabulary_.size))
            )
        if not blocks:
            return sp.csr_matrix((0, self.vocabulary_.size))
        return sp.vstack(blocks, format="csr")
