"""Hashed character and word n-grams of a normalised stream.

A key is a polynomial hash ``fold(h, x) = (h * HASH_BASE + x) mod HASH_MODULUS`` started from a per-family
salt: character n-grams fold their codes and then their length, words fold their first ``max_word_chars``
codes, word bigrams fold the two word hashes. All values stay below 2**63, so numpy and ONNX int64 arithmetic
agree bit for bit. Collisions are possible (as with any hashing vectorizer) but rare: with a 2**43-sized key
space, a 1M-entry vocabulary gives a false match for about one n-gram in eight million.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from threadguard.featurizer.chartable import FLAG_WORD
from threadguard.featurizer.params import (
    FAMILY_CHAR,
    FAMILY_WORD,
    HASH_BASE,
    HASH_MODULUS,
    SALT_CHAR,
    SALT_WORD,
    SALT_WORD_BIGRAM,
    FeaturizerParams,
)
from threadguard.featurizer.stream import SEP_CODE, CharStream


def fold(hashes: np.ndarray | int, values: np.ndarray | int) -> np.ndarray:
    """One step of the polynomial hash; inputs must be below HASH_MODULUS (values may be tiny negatives)."""
    return (np.asarray(hashes, dtype=np.int64) * HASH_BASE + values) % HASH_MODULUS


@dataclass(frozen=True)
class NgramOccurrences:
    """Every n-gram occurrence of a batch: parallel arrays."""

    rows: np.ndarray  # int64 row of the batch
    keys: np.ndarray  # int64 hash key
    families: np.ndarray  # int64 FAMILY_CHAR or FAMILY_WORD
    begins: np.ndarray  # int64 code-point offset of the first character (-1: only boundary characters)
    ends: np.ndarray  # int64 offset one past the last character

    def __len__(self) -> int:
        return int(self.keys.size)


def _shift_back(values: np.ndarray, by: int, fill: int) -> np.ndarray:
    """``out[i] = values[i + by]``, ``fill`` past the end."""
    if by == 0:
        return values
    out = np.full_like(values, fill)
    out[:-by] = values[by:]
    return out


def _char_ngrams(stream: CharStream, params: FeaturizerParams, rows: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    codes, offsets = stream.codes, stream.offsets
    partial = np.full(codes.shape, SALT_CHAR, dtype=np.int64)
    valid = np.ones(codes.shape, dtype=bool)
    first_real = np.where(offsets >= 0, offsets, _shift_back(offsets, 1, -1))
    parts = []
    for n in range(1, params.char_ngram_max + 1):
        last = _shift_back(codes, n - 1, SEP_CODE)
        valid &= last != SEP_CODE
        partial = fold(partial, last)
        if n < params.char_ngram_min:
            continue
        positions = np.nonzero(valid)[0]
        last_offsets = offsets[positions + n - 1]
        before_last = offsets[positions + n - 2] if n > 1 else last_offsets
        ends = np.where(last_offsets >= 0, last_offsets, before_last) + 1
        parts.append(
            (rows[positions], fold(partial[positions], n), np.full(positions.size, FAMILY_CHAR),
             first_real[positions], ends)
        )
    return parts


def _word_ngrams(stream: CharStream, params: FeaturizerParams, rows: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    if params.word_ngram_max == 0:
        return []
    codes, offsets = stream.codes, stream.offsets
    word = (stream.flags & FLAG_WORD) > 0
    previous = np.concatenate([[False], word[:-1]])
    following = np.concatenate([word[1:], [False]])
    starts = np.nonzero(word & ~previous)[0]
    ends = np.nonzero(word & ~following)[0]
    lengths = ends - starts + 1
    hashes = np.full(starts.shape, SALT_WORD, dtype=np.int64)
    last_index = codes.size - 1
    for k in range(params.max_word_chars):
        inside = k < lengths
        if not inside.any():
            break
        hashes = np.where(inside, fold(hashes, codes[np.minimum(starts + k, last_index)]), hashes)
    word_rows = rows[starts]
    begins, stops = offsets[starts], offsets[ends] + 1
    parts = [(word_rows, hashes, np.full(starts.size, FAMILY_WORD), begins, stops)]
    if params.word_ngram_max >= 2 and starts.size > 1:
        same_row = np.nonzero(word_rows[:-1] == word_rows[1:])[0]
        bigrams = fold(fold(SALT_WORD_BIGRAM, hashes[same_row]), hashes[same_row + 1])
        parts.append(
            (word_rows[same_row], bigrams, np.full(same_row.size, FAMILY_WORD), begins[same_row],
             stops[same_row + 1])
        )
    return parts


def extract_ngrams(stream: CharStream, params: FeaturizerParams) -> NgramOccurrences:
    """All character and word n-gram occurrences of a stream."""
    rows = stream.row_ids()
    parts = _char_ngrams(stream, params, rows) + _word_ngrams(stream, params, rows)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return NgramOccurrences(empty, empty, empty, empty, empty)
    columns = [np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(5)]
    return NgramOccurrences(*columns)
