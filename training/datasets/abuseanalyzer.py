"""AbuseAnalyzer Gab posts (Chandra et al. 2020), ``AbuseAnalyzer_Dataset.tsv``.

Columns returned: ``text``, ``abusive`` (1 non-hateful, 2 hateful/abusive), ``severity`` (the "Class of Hate":
1 biased attitude, 2 act of bias and discrimination, 3 violence and genocide; NaN for non-abusive posts) and
``target`` ("1-2" individual second person, "1-3" individual third person, "2" group; missing otherwise).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import read_table, require_columns, source_files, text_field, with_text

COLUMNS = {"Hate/Non-Hate": "abusive", "Class of Hate": "severity", "Target of Hate": "target"}


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = []
    for path in source_files(source, data_root):
        frame = read_table(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
        require_columns(frame, COLUMNS, source=source, path=path)
        frame = with_text(frame, text_field(source, "Post Text"), source=source, path=path)
        frame = frame.rename(columns=COLUMNS)
        frame["abusive"] = pd.to_numeric(frame["abusive"], errors="raise").astype("int64")
        frame["severity"] = pd.to_numeric(frame["severity"].replace({"nan": None, "": None}), errors="raise")
        frame["target"] = frame["target"].str.strip().replace({"nan": None, "": None})
        frames.append(frame[["text", *COLUMNS.values()]])
    return pd.concat(frames, ignore_index=True)
