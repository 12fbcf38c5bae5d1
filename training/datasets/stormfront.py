"""Stormfront white-supremacy forum sentences (de Gibert et al. 2018), ``stormfront_sentences.csv``.

Columns returned: ``text``, ``file_id``, ``label`` (hate / noHate / relation / idk/skip), ``num_contexts``
and ``sampled_split`` (the authors' balanced train/test sample, '' elsewhere). Option ``exclude_sampled``
(list, default empty) drops rows of the named authors' samples, e.g. ``["test"]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import (
    option_list,
    read_table,
    require_columns,
    source_files,
    text_field,
    with_text,
)

COLUMNS = ("file_id", "label", "num_contexts", "sampled_split")


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    exclude = option_list(source, "exclude_sampled", [])
    frames = []
    for path in source_files(source, data_root):
        frame = read_table(path, dtype=str, keep_default_na=False)
        require_columns(frame, COLUMNS, source=source, path=path)
        frame = with_text(frame, text_field(source, "text"), source=source, path=path)
        frame = frame[~frame["sampled_split"].isin(exclude)]
        frame["num_contexts"] = pd.to_numeric(frame["num_contexts"], errors="coerce")
        frames.append(frame[["text", *COLUMNS]])
    return pd.concat(frames, ignore_index=True)
