"""Hashed character and word n-grams of a normalised stream.

A key is a polynomial hash ``fold(h, x) = (h * HASH_BASE + x) mod HASH_MODULUS`` started from a per-family
salt: character n-grams fold their codes and then their length, word bigrams fold the two word hashes. Words are
hashed as a weighted sum of their first ``max_word_chars`` codes (see ``word_hashes``). All values stay
below 2**63, so numpy and ONNX int64 arithmetic agree bit for bit. Collisions are possible (as with any hashing
vectorizer) but rare: with a 2**43-sized key space, a 1M-entry vocabulary gives a false match for about one
n-gram in eight million.
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


WORD_MULTIPLIER_BITS = 36  # code (< 2**21) x multiplier (< 2**36), summed over <= 32 characters, stays < 2**63


def word_hash_multipliers(max_word_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """(odd multipliers ``R_k < 2**36`` for character positions k < max_word_chars, salts ``SALT_WORD * P^c mod M``
    for word lengths c <= max_word_chars). Fixed constants of the format, derived arithmetically (no RNG)."""
    multipliers = [(pow(HASH_BASE, k + 1, HASH_MODULUS) * 0x9E3779B97F4A7C15 >> 20) % (1 << WORD_MULTIPLIER_BITS) | 1
                   for k in range(max_word_chars)]
    salts = [SALT_WORD * pow(HASH_BASE, c, HASH_MODULUS) % HASH_MODULUS for c in range(max_word_chars + 1)]
    return np.array(multipliers, dtype=np.int64), np.array(salts, dtype=np.int64)


def word_hashes(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray, max_word_chars: int) -> np.ndarray:
    """Key of each word: ``(sum_k c_k R_k + salt[c]) mod M`` over its first ``c = min(length, max_word_chars)``
    codes. A weighted sum (no sequential fold, no per-term modulo) is one int64 matrix-vector product in ONNX;
    every partial sum stays below 2**63. Two different words collide with probability about 2**-36."""
    multipliers, salts = word_hash_multipliers(max_word_chars)
    total = salts[np.minimum(lengths, max_word_chars)]
    for k in range(max_word_chars):
        inside = k < lengths
        if not inside.any():
            break
        total = total + np.where(inside, codes[np.minimum(starts + k, codes.size - 1)] * multipliers[k], 0)
    return total % HASH_MODULUS


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
    parts: list[tuple[np.ndarray, ...]] = []
    for n in range(1, params.char_ngram_lengths[-1] + 1):
        last = _shift_back(codes, n - 1, SEP_CODE)
        valid &= last != SEP_CODE
        partial = fold(partial, last)
        if n not in params.char_ngram_lengths:
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
    hashes = word_hashes(codes, starts, lengths, params.max_word_chars)
    word_rows = rows[starts]
    begins, stops = offsets[starts], offsets[ends] + 1
    parts: list[tuple[np.ndarray, ...]] = [(word_rows, hashes, np.full(starts.size, FAMILY_WORD), begins, stops)]
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
