"""The character table: every code point mapped to a normalised code plus class flags.

Normalisation happens one code point at a time so that the ONNX graph can do it with a single string ->
int64 ``LabelEncoder`` (no ``StringNormalizer``, hence no locale). Per code point:

- whitespace of any kind -> a plain space;
- combining marks, format characters (zero-width space/joiner, soft hyphen, BOM) and controls -> dropped;
- otherwise NFKD (compatibility forms: full-width letters, mathematical alphanumerics, ligatures), combining
  marks stripped (accents), lower-cased, then confusable Cyrillic/Greek letters and typographic quotes folded
  onto their ASCII look-alikes.

Leetspeak needs context (``1diot`` but not ``2020``), so the table only flags candidates; the stream applies
the substitution when a neighbour is a letter.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

# class flags, packed with the code as ``code * FLAG_RADIX + flags``
FLAG_LETTER = 1
FLAG_SPACE = 2
FLAG_LEET_STRONG = 4  # substituted when either neighbour is a letter: 1diot, h3ll0, @ss, $hit
FLAG_LEET_WEAK = 8  # substituted only between two letters: sh!t, f|ck
FLAG_WORD = 16  # part of a word token: letters, digits, '*' (f*ck)
FLAG_RADIX = 32

DROP = -1  # packed value of characters removed from the stream
SPACE_CODE = ord(" ")
UNKNOWN_CODE = 0xFFFD  # code points outside the table (unassigned, private use, rare planes)
UNKNOWN_PACKED = UNKNOWN_CODE * FLAG_RADIX
SPACE_PACKED = SPACE_CODE * FLAG_RADIX + FLAG_SPACE
TABLE_LIMIT = 0x20000  # BMP and SMP (emoji, mathematical alphanumerics); everything above is UNKNOWN
PAD_TOKEN = ""  # what the ONNX tokenizer pads rows with; dropped

LEET_STRONG = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
LEET_WEAK = {"!": "i", "|": "i"}

CONFUSABLES = {
    # Cyrillic letters that look like Latin ones (lower case, after case folding)
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h",
    "ԛ": "q", "ԝ": "w",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w",
    # typographic punctuation
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": ".",
}

_DROP_CATEGORIES = {"Mn", "Me", "Cf", "Cc"}
_UNKNOWN_CATEGORIES = {"Cs", "Co", "Cn"}


def _flags_for(char: str) -> int:
    flags = 0
    if char.isalpha():
        flags |= FLAG_LETTER | FLAG_WORD
    elif char.isalnum() or char == "*":
        flags |= FLAG_WORD
    if char in LEET_STRONG:
        flags |= FLAG_LEET_STRONG
    elif char in LEET_WEAK:
        flags |= FLAG_LEET_WEAK
    return flags


def normalize_char(char: str) -> int:
    """Packed value (``code * FLAG_RADIX + flags``) for one code point, or ``DROP``."""
    if char == PAD_TOKEN:
        return DROP
    if char.isspace():
        return SPACE_PACKED
    category = unicodedata.category(char)
    if category in _DROP_CATEGORIES:
        return DROP
    if category in _UNKNOWN_CATEGORIES:
        return UNKNOWN_PACKED
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Me"))
    if not base:
        return DROP
    folded = base.lower()
    first = folded[0]
    first = CONFUSABLES.get(first, first)
    if first.isspace():
        return SPACE_PACKED
    if unicodedata.category(first) in _DROP_CATEGORIES:
        return DROP
    return ord(first) * FLAG_RADIX + _flags_for(first)


def leet_code(code: int) -> int:
    """The letter a leet candidate stands for (``-1`` when it is not a candidate)."""
    char = chr(code)
    target = LEET_STRONG.get(char) or LEET_WEAK.get(char)
    return ord(target) if target else -1


@lru_cache(maxsize=1)
def packed_table() -> np.ndarray:
    """int64 array indexed by code point (0..0x10FFFF) -> packed value; built once per process."""
    table = np.full(0x110000, UNKNOWN_PACKED, dtype=np.int64)
    for code_point in range(TABLE_LIMIT):
        table[code_point] = normalize_char(chr(code_point))
    table.setflags(write=False)
    return table


def table_entries() -> tuple[list[str], np.ndarray]:
    """(keys, packed values) for the ONNX LabelEncoder: every character whose value is not the default."""
    table = packed_table()
    code_points = np.nonzero(table[:TABLE_LIMIT] != UNKNOWN_PACKED)[0]
    keys = [PAD_TOKEN] + [chr(int(cp)) for cp in code_points]
    values = np.concatenate([[DROP], table[code_points]]).astype(np.int64)
    return keys, values


def leet_entries() -> tuple[np.ndarray, np.ndarray]:
    """(codes, letter codes) of every leet candidate, for the int64 -> int64 LabelEncoder."""
    sources = sorted({ord(c) for c in (*LEET_STRONG, *LEET_WEAK)})
    return np.array(sources, dtype=np.int64), np.array([leet_code(c) for c in sources], dtype=np.int64)
