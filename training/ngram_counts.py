"""N-gram counts of a whole corpus, computed once and sliced per training fold.

Featurizing text is the slow part of training (normalised stream, hashing). The leave-one-source-out table
needs a vocabulary, idf and TF-IDF matrix per fold; recomputing n-grams for each would multiply training time
by the number of sources. Counts per (text, family, n-gram) are all a fold needs: document frequencies and
TF-IDF values follow from them exactly as :func:`threadguard.linear_model.tfidf` computes them from text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from threadguard.featurizer import FeaturizerParams, build_stream, extract_ngrams
from threadguard.linear_model import tfidf_from_counts

_KEY_BITS = 43  # HASH_MODULUS < 2**43
_KEY_MASK = (1 << _KEY_BITS) - 1
CHUNK_ROWS = 4096  # (row, family) must fit in the 20 bits above the key


@dataclass(frozen=True)
class NgramCounts:
    """Sparse counts sorted by row: entry i says text ``rows[i]`` holds n-gram ``keys[key_index[i]]``
    of ``families[i]`` ``counts[i]`` times."""

    rows: np.ndarray  # int64, non-decreasing
    families: np.ndarray  # int8
    key_index: np.ndarray  # int64 into keys
    counts: np.ndarray  # int32
    keys: np.ndarray  # int64, sorted unique n-gram keys of the corpus
    n_rows: int

    @classmethod
    def from_texts(cls, texts: Sequence[str], params: FeaturizerParams,
                   progress: Callable[[str], None] | None = None) -> NgramCounts:
        rows, families, keys, counts = [], [], [], []
        for start in range(0, len(texts), CHUNK_ROWS):
            chunk = list(texts[start : start + CHUNK_ROWS])
            occurrences = extract_ngrams(build_stream(chunk), params)
            composite = ((occurrences.rows * 2 + occurrences.families) << _KEY_BITS) | occurrences.keys
            unique, chunk_counts = np.unique(composite, return_counts=True)
            segment = unique >> _KEY_BITS
            rows.append(segment // 2 + start)
            families.append((segment % 2).astype(np.int8))
            keys.append(unique & _KEY_MASK)
            counts.append(chunk_counts.astype(np.int32))
            if progress and (start // CHUNK_ROWS) % 8 == 0:
                progress(f"n-grams: {start + len(chunk):,}/{len(texts):,} texts")
        if not rows:
            empty = np.zeros(0, np.int64)
            return cls(empty, empty.astype(np.int8), empty, empty.astype(np.int32), empty, len(texts))
        all_keys, key_index = np.unique(np.concatenate(keys), return_inverse=True)
        return cls(np.concatenate(rows), np.concatenate(families), key_index.astype(np.int64),
                   np.concatenate(counts), all_keys, len(texts))

    def _entries(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entry indices, new row numbers) for the texts at ``positions`` (in the given order)."""
        positions = np.asarray(positions, dtype=np.int64)
        starts = np.searchsorted(self.rows, positions, side="left")
        ends = np.searchsorted(self.rows, positions, side="right")
        lengths = ends - starts
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        entries = np.arange(lengths.sum(), dtype=np.int64) + offsets
        return entries, np.repeat(np.arange(positions.size, dtype=np.int64), lengths)

    def document_frequency(self, positions: np.ndarray) -> np.ndarray:
        """For each key, in how many of the texts at ``positions`` it occurs.

        Entries are unique per (text, family, key) and character and word keys are salted apart, so counting
        entries counts texts (a key shared by both families through a hash collision counts twice).
        """
        entries, _ = self._entries(positions)
        return np.bincount(self.key_index[entries], minlength=self.keys.size)

    def tfidf_matrix(self, positions: np.ndarray, vocabulary: np.ndarray, idf: np.ndarray,
                     params: FeaturizerParams) -> sp.csr_matrix:
        """TF-IDF rows for the texts at ``positions`` over ``vocabulary`` (sorted keys)."""
        entries, new_rows = self._entries(positions)
        vocab_ids = np.searchsorted(vocabulary, self.keys)
        vocab_ids = np.where(
            (vocab_ids < vocabulary.size) & (vocabulary[np.minimum(vocab_ids, vocabulary.size - 1)] == self.keys),
            vocab_ids, -1)
        ids = vocab_ids[self.key_index[entries]]
        hit = ids >= 0
        feats = tfidf_from_counts(new_rows[hit], self.families[entries][hit].astype(np.int64), ids[hit],
                                  self.counts[entries][hit], len(positions), idf, params)
        return sp.csr_matrix((feats.values, (feats.rows, feats.ids)), shape=(len(positions), vocabulary.size))
