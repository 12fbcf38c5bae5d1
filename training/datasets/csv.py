"""Generic delimited-text loader, for label exports (e.g. reviewer decisions) added by configuration alone.

The text comes from ``text_field`` (default ``text``); every other column whose values are numbers becomes a
float column with blank cells as NaN (unknown), ready for rules such as ``positive = "toxicity >= 0.5"``.
Options: ``sep`` (default ","), ``encoding`` (default utf-8), ``label_columns`` (columns that must be numeric;
a non-numeric value is an error instead of the column being left as text). Several files are concatenated.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import (
    numeric_columns,
    option_list,
    read_table,
    source_files,
    text_field,
    with_text,
)


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    required = option_list(source, "label_columns", [])
    frames = []
    for path in source_files(source, data_root):
        frame = read_table(
            path,
            sep=str(source.option("sep", ",")),
            encoding=str(source.option("encoding", "utf-8")),
            dtype=str,
            keep_default_na=False,
        )
        frame = with_text(frame, text_field(source, "text"), source=source, path=path)
        frames.append(numeric_columns(frame, source=source, path=path, required=required))
    return pd.concat(frames, ignore_index=True)
