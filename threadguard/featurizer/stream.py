"""The normalised character stream of a batch of texts (numpy reference of the ONNX graph's first half).

A batch becomes one flat stream: for each text ``SEP, space, <characters>, space`` and one final ``SEP``.
Separators are never letters, spaces or equal to a character, so the contextual rules below, written as
comparisons with shifted copies of the stream, cannot reach across texts. The rules run in a fixed order:

1. table lookup, dropped characters removed;
2. leetspeak: a strong candidate next to a letter, or a weak one between two letters, becomes that letter;
3. runs of spaces collapse to one;
4. a character repeated three or more times keeps two (``stuuuupid`` -> ``stuupid``);
5. single letters separated by single spaces, in runs of three or more, are joined (``s h i t`` -> ``shit``).

Every element keeps the code-point offset of the character it came from (``-1`` for the added boundary
spaces), which is how explanations map n-grams back onto the caller's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from threadguard.featurizer.chartable import (
    DROP,
    FLAG_LEET_STRONG,
    FLAG_LEET_WEAK,
    FLAG_LETTER,
    FLAG_RADIX,
    FLAG_SPACE,
    FLAG_WORD,
    SPACE_PACKED,
    leet_entries,
    packed_table,
)

SEP_CODE = -2  # the separator's code; it has no flags


class InvalidTextError(ValueError):
    """A text cannot be featurized (e.g. it holds a lone surrogate, which is not valid Unicode)."""


@dataclass(frozen=True)
class CharStream:
    """Flat normalised stream of a batch: parallel arrays of equal length."""

    codes: np.ndarray  # int64 normalised code points; SEP_CODE at separators
    flags: np.ndarray  # int64 class flags
    offsets: np.ndarray  # int64 code-point offset into the row's text; -1 for separators and boundaries
    n_rows: int

    @property
    def is_sep(self) -> np.ndarray:
        return self.codes == SEP_CODE

    def row_ids(self) -> np.ndarray:
        """Row index of every element (a separator belongs to the row it opens)."""
        return np.cumsum(self.is_sep) - 1


def _shift(values: np.ndarray, by: int, fill: int) -> np.ndarray:
    """``out[i] = values[i - by]`` (positive ``by`` looks back), ``fill`` where that falls outside."""
    out = np.full_like(values, fill)
    if by > 0:
        out[by:] = values[:-by]
    elif by < 0:
        out[:by] = values[-by:]
    else:
        out[:] = values
    return out


def _code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        joined = "".join(texts).encode("utf-32-le")
    except UnicodeEncodeError as exc:
        raise InvalidTextError(f"text is not valid Unicode: {exc.reason} at code point {exc.start}") from exc
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    return np.frombuffer(joined, dtype="<u4").astype(np.int64), lengths


def _assemble(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Packed values and offsets of ``SEP, space, chars..., space`` per row plus a final SEP, drops removed."""
    code_points, lengths = _code_points(texts)
    n_rows = len(texts)
    packed_chars = packed_table()[code_points]
    row_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n_rows else np.zeros(0, np.int64)
    char_offsets = np.arange(code_points.size, dtype=np.int64) - np.repeat(row_starts, lengths)
    # each row contributes 3 extra elements; the final SEP one more
    total = code_points.size + 3 * n_rows + 1
    packed = np.empty(total, dtype=np.int64)
    offsets = np.full(total, -1, dtype=np.int64)
    out_row_starts = row_starts + 3 * np.arange(n_rows, dtype=np.int64)
    char_positions = np.arange(code_points.size, dtype=np.int64) + 2 + 3 * np.repeat(
        np.arange(n_rows, dtype=np.int64), lengths
    )
    packed[out_row_starts] = SEP_CODE * FLAG_RADIX  # decoded below into code SEP_CODE, flags 0
    packed[out_row_starts + 1] = SPACE_PACKED
    packed[out_row_starts + 2 + lengths] = SPACE_PACKED
    packed[char_positions] = packed_chars
    offsets[char_positions] = char_offsets
    packed[-1] = SEP_CODE * FLAG_RADIX
    keep = packed != DROP
    return packed[keep], offsets[keep]


def _apply_leet(codes: np.ndarray, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    letter = (flags & FLAG_LETTER) > 0
    prev_letter = _shift(letter, 1, False)
    next_letter = _shift(letter, -1, False)
    strong = (flags & FLAG_LEET_STRONG) > 0
    weak = (flags & FLAG_LEET_WEAK) > 0
    substitute = (strong & (prev_letter | next_letter)) | (weak & prev_letter & next_letter)
    if substitute.any():
        sources, targets = leet_entries()
        lookup = dict(zip(sources.tolist(), targets.tolist(), strict=True))
        codes = codes.copy()
        flags = flags.copy()
        codes[substitute] = [lookup[int(c)] for c in codes[substitute]]
        flags[substitute] = FLAG_LETTER | FLAG_WORD
    return codes, flags


def _squeeze_spaces(space: np.ndarray) -> np.ndarray:
    """Keep-mask: drop a space that follows a space."""
    return ~(space & _shift(space, 1, False))


def _squeeze_repeats(codes: np.ndarray) -> np.ndarray:
    """Keep-mask: drop a character equal to the two before it."""
    return ~((codes == _shift(codes, 1, SEP_CODE)) & (codes == _shift(codes, 2, SEP_CODE)) & (codes != SEP_CODE))


def _join_spaced_letters(flags: np.ndarray) -> np.ndarray:
    """Keep-mask: drop spaces inside runs of >= 3 single letters (``s h i t``)."""
    letter = (flags & FLAG_LETTER) > 0
    space = (flags & FLAG_SPACE) > 0

    def at(mask: np.ndarray, offset: int) -> np.ndarray:  # mask[i + offset]
        return _shift(mask, -offset, False)

    between_singles = at(letter, -1) & at(space, -2) & at(letter, 1) & at(space, 2)
    run_of_three = (at(letter, -3) & at(space, -4)) | (at(letter, 3) & at(space, 4))
    return ~(space & between_singles & run_of_three)


def build_stream(texts: Sequence[str]) -> CharStream:
    """Normalise a batch of texts into one flat stream (see the module docstring for the rules)."""
    packed, offsets = _assemble(texts)
    codes = packed // FLAG_RADIX
    flags = packed % FLAG_RADIX
    codes, flags = _apply_leet(codes, flags)
    keep = _squeeze_spaces((flags & FLAG_SPACE) > 0)
    codes, flags, offsets = codes[keep], flags[keep], offsets[keep]
    keep = _squeeze_repeats(codes)
    codes, flags, offsets = codes[keep], flags[keep], offsets[keep]
    keep = _join_spaced_letters(flags)
    codes, flags, offsets = codes[keep], flags[keep], offsets[keep]
    return CharStream(codes=codes, flags=flags, offsets=offsets, n_rows=len(texts))


def normalized_texts(texts: Sequence[str]) -> list[str]:
    """The stream rendered back as strings, one per text (for debugging and documentation)."""
    stream = build_stream(texts)
    rows = stream.row_ids()
    out: list[list[str]] = [[] for _ in texts]
    for row, code in zip(rows.tolist(), stream.codes.tolist(), strict=True):
        if code != SEP_CODE:
            out[row].append(chr(code))
    return ["".join(chars) for chars in out]
