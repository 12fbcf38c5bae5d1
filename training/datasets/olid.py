"""OLID v1.0 (OffensEval 2019) training set, levels A/B/C (``olid-training-v1.0.tsv``).

Columns returned: ``text``, ``id``, ``subtask_a`` (OFF/NOT), ``subtask_b`` (TIN/UNT or missing) and
``subtask_c`` (IND/GRP/OTH or missing); the file's literal ``NULL`` becomes a missing value.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import read_table, require_columns, source_files, text_field, with_text

SUBTASKS = ("subtask_a", "subtask_b", "subtask_c")


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = []
    for path in source_files(source, data_root):
        # The tweets hold unbalanced quotes: quoting must be off, as the OLID README prescribes.
        frame = read_table(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
        require_columns(frame, ["id", *SUBTASKS], source=source, path=path)
        frame = with_text(frame, text_field(source, "tweet"), source=source, path=path)
        for column in SUBTASKS:
            frame[column] = frame[column].str.strip().replace({"NULL": None, "": None})
        frames.append(frame[["text", "id", *SUBTASKS]])
    return pd.concat(frames, ignore_index=True)
