"""Davidson et al. 2017, hate speech and offensive language tweets (``labeled_data.csv``).

Columns returned: ``text`` (the tweet), ``class`` (0 hate, 1 offensive, 2 neither; the majority vote),
``count`` and the vote columns ``hate_speech``, ``offensive_language``, ``neither``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import read_table, require_columns, source_files, text_field, with_text

VOTE_COLUMNS = ("count", "hate_speech", "offensive_language", "neither", "class")


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = []
    for path in source_files(source, data_root):
        frame = read_table(path, index_col=0, keep_default_na=False)
        require_columns(frame, VOTE_COLUMNS, source=source, path=path)
        frame = with_text(frame, text_field(source, "tweet"), source=source, path=path)
        for column in VOTE_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype("int64")
        frames.append(frame[["text", *VOTE_COLUMNS]])
    return pd.concat(frames, ignore_index=True)
