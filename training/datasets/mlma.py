"""MLMA hate speech, English part (Ousidhoum et al. 2019), ``en_dataset_with_stop_words.csv``.

``sentiment`` is the union of the annotators' hostility types joined by '_' (offensive, hateful, abusive,
disrespectful, fearful, normal). Columns returned: ``text``, ``sentiment``, ``directness``, ``target``,
``group``, one 0/1 column per hostility type (``offensive`` ... ``normal``) and ``n_hostile`` (how many
non-normal types were given).

The copy escapes non-ASCII characters as literal ``\\u2026`` text and writes double quotes as backslashes
(``\\retarded\\``); both are decoded here so that the text reads like the tweet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import read_table, require_columns, source_files, text_field, with_text
from training.datasets.cleaning import decode_literal_unicode_escapes

HOSTILITY_TYPES = ("offensive", "hateful", "abusive", "disrespectful", "fearful", "normal")
COLUMNS = ("sentiment", "directness", "target", "group")


def _restore(text: str) -> str:
    return decode_literal_unicode_escapes(text).replace("\\", '"')


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = []
    for path in source_files(source, data_root):
        frame = read_table(path, dtype=str, keep_default_na=False)
        require_columns(frame, COLUMNS, source=source, path=path)
        frame = with_text(frame, text_field(source, "tweet"), source=source, path=path)
        frame["text"] = [_restore(text) for text in frame["text"]]
        parts = frame["sentiment"].str.strip().str.split("_")
        for kind in HOSTILITY_TYPES:
            frame[kind] = parts.map(lambda values, kind=kind: int(kind in values))
        frame["n_hostile"] = frame[[kind for kind in HOSTILITY_TYPES if kind != "normal"]].sum(axis=1)
        frames.append(frame[["text", *COLUMNS, *HOSTILITY_TYPES, "n_hostile"]])
    return pd.concat(frames, ignore_index=True)
