"""Gab Hate Corpus majority labels (``ghc_majority25k_*.jsonl``; only the dev split is available here).

Columns returned: ``text`` and every 0/1 label column of the file as integers: hd (assault on human dignity),
cv (call for violence), vo (vulgarity), ex / im (explicit / implicit), the target columns (rae, nat, gen, rel,
sxo, idl, pol, mph), plus ``text_id``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets._io import read_jsonl, require_columns, source_files, text_field, with_text

REQUIRED = ("hd", "cv", "vo")


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = []
    for path in source_files(source, data_root):
        frame = read_jsonl(path)
        require_columns(frame, REQUIRED, source=source, path=path)
        frame = with_text(frame, text_field(source, "Text"), source=source, path=path)
        label_columns = [c for c in frame.columns if c not in ("text", "text_id")]
        for column in label_columns:
            frame[column] = pd.to_numeric(frame[column], errors="raise")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
