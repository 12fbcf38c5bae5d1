"""Generic JSON-lines loader, for label exports (e.g. reviewer decisions) added by configuration alone.

One object per line; the text comes from ``text_field`` (default ``text``); numeric, boolean or null fields
become float columns (null / "" = NaN, unknown). Option ``label_columns`` lists fields that must be numeric.
Several files are concatenated; ``.gz`` files are read transparently.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import (
    numeric_columns,
    option_list,
    read_jsonl,
    source_files,
    text_field,
    with_text,
)


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    required = option_list(source, "label_columns", [])
    frames = []
    for path in source_files(source, data_root):
        frame = read_jsonl(path)
        frame = with_text(frame, text_field(source, "text"), source=source, path=path)
        frames.append(numeric_columns(frame, source=source, path=path, required=required))
    return pd.concat(frames, ignore_index=True)
