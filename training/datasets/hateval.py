"""HatEval 2019 (English) as packaged by TweetEval: ``<split>_text.txt`` and ``<split>_labels.txt`` pairs.

Line i of a labels file labels line i of the text file with the same prefix. Declare the pairs in ``files``;
the official test pair must not be declared. Columns returned: ``text``, ``label`` (1 hate, 0 not hate),
``split`` (the file prefix, e.g. ``train``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets import LoaderError
from training.datasets._io import read_lines, source_files

TEXT_MARK = "_text.txt"
LABELS_MARK = "_labels.txt"


def _pairs(source: SourceConfig, paths: list[Path]) -> list[tuple[str, Path, Path]]:
    texts = {path.name.split(TEXT_MARK)[0]: path for path in paths if TEXT_MARK in path.name}
    labels = {path.name.split(LABELS_MARK)[0]: path for path in paths if LABELS_MARK in path.name}
    unpaired = sorted(set(texts) ^ set(labels))
    others = [path.name for path in paths if TEXT_MARK not in path.name and LABELS_MARK not in path.name]
    if unpaired or others or not texts:
        raise LoaderError(
            f"source {source.name!r}: files must be <split>{TEXT_MARK} / <split>{LABELS_MARK} pairs; "
            f"unpaired splits {unpaired}, unexpected files {others}"
        )
    return [(split, texts[split], labels[split]) for split in texts]


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = []
    for split, text_path, label_path in _pairs(source, source_files(source, data_root)):
        texts = read_lines(text_path)
        labels = [line.strip() for line in read_lines(label_path)]
        if len(texts) != len(labels):
            raise LoaderError(
                f"source {source.name!r}: {text_path.name} has {len(texts)} lines but {label_path.name} has "
                f"{len(labels)}"
            )
        bad = sorted({value for value in labels if value not in {"0", "1"}})
        if bad:
            raise LoaderError(
                f"source {source.name!r}: {label_path.name} holds labels other than 0/1: {bad[:5]}"
            )
        frames.append(
            pd.DataFrame({"text": texts, "label": [int(value) for value in labels], "split": split})
        )
    return pd.concat(frames, ignore_index=True)
