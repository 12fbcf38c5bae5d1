"""The linear n-gram model as numbers: vocabulary, idf, per-label weights and bias.

This is the reference computation the ONNX graph must reproduce. The trainer builds one from fitted
estimators; the service reads one back out of a bundle's ``model.onnx`` (for explanations), so there is a
single source of truth for the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from threadguard.featurizer import FeaturizerParams, NgramOccurrences, build_stream, extract_ngrams

if TYPE_CHECKING:
    from threadguard.bundle import ModelBundle

# names inside model.onnx that hold the model's numbers (written by training/export.py)
ONNX_VOCABULARY_NODE = "vocabulary_lookup"
ONNX_WEIGHTS = "weights"  # [V + 1, L + 1] float32: idf * weights, then idf^2 as the last column; last row zero
ONNX_BIAS = "bias"


@dataclass(frozen=True)
class TfidfRows:
    """Sparse TF-IDF features of a batch in coordinate form, one entry per (row, vocabulary id)."""

    rows: np.ndarray
    ids: np.ndarray
    values: np.ndarray
    n_rows: int


def lookup(vocabulary: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Vocabulary id of each key, -1 when absent. ``vocabulary`` is sorted."""
    if vocabulary.size == 0:
        return np.full(keys.shape, -1, dtype=np.int64)
    positions = np.searchsorted(vocabulary, keys)
    positions = np.minimum(positions, vocabulary.size - 1)
    return np.where(vocabulary[positions] == keys, positions, -1).astype(np.int64)


def tfidf_from_counts(
    rows: np.ndarray,
    families: np.ndarray,
    ids: np.ndarray,
    counts: np.ndarray,
    n_rows: int,
    idf: np.ndarray,
    params: FeaturizerParams,
) -> TfidfRows:
    """TF x IDF per (row, family, id) count, divided by the L2 norm over occurrences within each (row, family)
    (see FeaturizerParams), times the family weight. Each (row, family, id) must appear once."""
    segments = rows * 2 + families
    counts = np.asarray(counts, dtype=np.float64)
    weights = idf[ids]
    values = counts * weights
    sums = np.bincount(segments, weights=counts * weights * weights, minlength=2 * n_rows)
    norms = np.sqrt(sums[segments])
    family_weights = np.asarray(params.family_weights, dtype=np.float64)[families]
    values = np.divide(values, norms, out=np.zeros_like(values), where=norms > 0) * family_weights
    return TfidfRows(rows=rows, ids=ids, values=values, n_rows=n_rows)


def tfidf(
    occurrences: NgramOccurrences,
    n_rows: int,
    vocabulary: np.ndarray,
    idf: np.ndarray,
    params: FeaturizerParams,
) -> TfidfRows:
    """TF-IDF of a batch's n-gram occurrences over ``vocabulary`` (what the ONNX graph computes)."""
    ids = lookup(vocabulary, occurrences.keys)
    hit = ids >= 0
    vocab_size = max(int(vocabulary.size), 1)
    composite = (occurrences.rows[hit] * 2 + occurrences.families[hit]) * vocab_size + ids[hit]
    unique, counts = np.unique(composite, return_counts=True)
    segments = unique // vocab_size
    return tfidf_from_counts(segments // 2, segments % 2, unique % vocab_size, counts, n_rows, idf, params)


@dataclass(frozen=True)
class LinearNgramModel:
    """Per-label calibrated logistic models over shared hashed n-gram TF-IDF features."""

    params: FeaturizerParams
    labels: tuple[str, ...]
    vocabulary: np.ndarray  # int64 [V], sorted
    idf: np.ndarray  # float [V]
    weights: np.ndarray  # float [V, L], calibration folded in
    bias: np.ndarray  # float [L]

    def __post_init__(self) -> None:
        size = self.vocabulary.size
        if self.idf.shape != (size,) or self.weights.shape != (size, len(self.labels)):
            raise ValueError("vocabulary, idf and weights disagree in shape")
        if self.bias.shape != (len(self.labels),):
            raise ValueError("bias must have one entry per label")
        if size > 1 and not np.all(np.diff(self.vocabulary) > 0):
            raise ValueError("vocabulary must be sorted and unique")

    def features(self, texts: Sequence[str]) -> TfidfRows:
        occurrences = extract_ngrams(build_stream(texts), self.params)
        return tfidf(occurrences, len(texts), self.vocabulary, self.idf, self.params)

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated logits [N, L] in float64."""
        feats = self.features(texts)
        logits = np.tile(self.bias.astype(np.float64), (len(texts), 1))
        np.add.at(logits, feats.rows, feats.values[:, None] * self.weights[feats.ids].astype(np.float64))
        return logits

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities [N, L] in float64: what model.onnx computes in float32."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(texts)))

    @classmethod
    def from_onnx(cls, onnx_path: str, params: FeaturizerParams, labels: Sequence[str]) -> LinearNgramModel:
        import onnx
        from onnx import numpy_helper

        model = onnx.load(onnx_path)
        initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        nodes = {n.name: n for n in model.graph.node}
        if ONNX_VOCABULARY_NODE not in nodes or ONNX_WEIGHTS not in initializers:
            raise ValueError(f"{onnx_path} is not a threadguard n-gram model")
        vocab_node = nodes[ONNX_VOCABULARY_NODE]
        keys_attr = next(a for a in vocab_node.attribute if a.name in ("keys_int64s", "keys_tensor"))
        if keys_attr.name == "keys_tensor":
            vocabulary = numpy_helper.to_array(keys_attr.t).astype(np.int64)
        else:
            vocabulary = np.asarray(keys_attr.ints, dtype=np.int64)
        table = initializers[ONNX_WEIGHTS].astype(np.float64)
        if table.shape != (vocabulary.size + 1, len(labels) + 1):
            raise ValueError(f"weight table has shape {table.shape}, expected ({vocabulary.size + 1}, "
                             f"{len(labels) + 1}): one row per vocabulary id and a zero row for absent n-grams")
        table = table[:-1]
        idf = np.sqrt(table[:, -1])
        return cls(
            params=params,
            labels=tuple(labels),
            vocabulary=vocabulary,
            idf=idf,
            weights=table[:, :-1] / idf[:, None],
            bias=initializers[ONNX_BIAS].astype(np.float64).reshape(-1),
        )

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> LinearNgramModel:
        """Read the model back out of a bundle; raises BundleError when it is not an n-gram bundle."""
        from threadguard.bundle import BundleError

        try:
            params = FeaturizerParams.from_manifest(bundle.manifest.featurizer)
            return cls.from_onnx(str(bundle.onnx_path), params, bundle.labels)
        except (ValueError, KeyError, StopIteration) as exc:
            raise BundleError(f"{bundle.path} is not a threadguard n-gram bundle: {exc}") from exc
