"""Featurizer parameters and the fixed constants of the n-gram hash.

The constants are part of the model format: a bundle's vocabulary is a set of hash values, so changing them
invalidates every model. They are chosen so that integer arithmetic never overflows int64 (ONNX has no
unsigned 128-bit types): every intermediate value is below ``(MODULUS + 1) * BASE < 2**63``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HASH_BASE = 0x110000  # one more than the largest Unicode code point, so every character code is a digit
HASH_MODULUS = 7_999_999_999_909  # prime; (HASH_MODULUS + 1) * HASH_BASE < 2**63
SALT_CHAR = 1
SALT_WORD = 2
SALT_WORD_BIGRAM = 3

FAMILY_CHAR = 0
FAMILY_WORD = 1
FAMILIES = ("char", "word")

FEATURIZER_KIND = "hashed-ngram-tfidf"
FEATURIZER_VERSION = 3  # 3: word keys as a sum of terms; 2: raw TF with L2 over occurrences (1: sublinear TF)


@dataclass(frozen=True)
class FeaturizerParams:
    """What the featurizer extracts. Stored in the manifest; the ONNX graph is built from the same values.

    Feature values are TF x IDF normalised by the L2 norm *over occurrences*: ``x_j = c_j idf_j / sqrt(sum_k
    c_k idf_k^2)`` within each (text, family). Every term is a sum over n-gram occurrences, so the ONNX graph
    needs no grouping or sorting (onnxruntime's ``Unique`` measured ~80% of batch time); for n-grams that occur
    once — nearly all of them in a comment — it equals the usual L2-normalised TF-IDF.
    """

    char_ngram_lengths: tuple[int, ...] = (2, 3, 4, 5)
    word_ngram_max: int = 2
    max_word_chars: int = 20
    family_weights: tuple[float, float] = field(default=(1.0, 1.0))

    def __post_init__(self) -> None:
        # TOML and JSON give lists; the params are hashable (used as cache keys), so store tuples
        object.__setattr__(self, "char_ngram_lengths", tuple(int(n) for n in self.char_ngram_lengths))
        object.__setattr__(self, "family_weights", tuple(float(w) for w in self.family_weights))
        lengths = self.char_ngram_lengths
        if not lengths or list(lengths) != sorted(set(lengths)) or not 1 <= lengths[0] <= lengths[-1] <= 8:
            raise ValueError("char_ngram_lengths must be distinct increasing lengths within 1..8")
        if self.word_ngram_max not in (0, 1, 2):
            raise ValueError("word_ngram_max must be 0, 1 or 2")
        if not 1 <= self.max_word_chars <= 32:  # keeps the word hash sum below 2**63 (featurizer/ngrams.py)
            raise ValueError("max_word_chars must be within 1..32")
        if len(self.family_weights) != len(FAMILIES) or min(self.family_weights) < 0:
            raise ValueError("family_weights needs one non-negative weight per family (char, word)")

    def to_manifest(self) -> dict[str, Any]:
        data = asdict(self)
        data["family_weights"] = list(self.family_weights)
        data["char_ngram_lengths"] = list(self.char_ngram_lengths)
        return {
            "kind": FEATURIZER_KIND,
            "version": FEATURIZER_VERSION,
            "hash": {"base": HASH_BASE, "modulus": HASH_MODULUS},
            **data,
        }

    @classmethod
    def from_manifest(cls, data: dict[str, Any]) -> FeaturizerParams:
        if data.get("kind") != FEATURIZER_KIND:
            raise ValueError(f"featurizer kind {data.get('kind')!r} is not {FEATURIZER_KIND!r}")
        if int(data.get("version", 0)) != FEATURIZER_VERSION:
            raise ValueError(f"featurizer version {data.get('version')} is not this code's {FEATURIZER_VERSION}")
        hash_info = data.get("hash", {})
        if hash_info and (hash_info.get("base"), hash_info.get("modulus")) != (HASH_BASE, HASH_MODULUS):
            raise ValueError("featurizer hash constants differ from this code's")
        names = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in names}
        return cls(**kwargs)
