"""HateXplain majority labels (MBIB's ``092-HateXplain_mbib_majority.csv``) restricted to official splits.

``files`` holds the CSV and the official ``post_id_divisions.json``; only posts whose id is in one of the
``splits`` option's divisions (default train and val) are returned, so the official test posts never enter
training even from a complete copy of the CSV. The 919 "undecided" posts are in no division and are dropped.

MBIB stripped every non-alphanumeric character, so HateXplain's ``<user>`` and ``<number>`` placeholders
survive as bare words ("user user he married ..."); option ``placeholder_words`` (default
``["user", "number"]``) removes them. They mark roughly a quarter of the posts and would otherwise tie the
label base rate of this source to two ordinary-looking words.

Columns returned: ``text``, ``post_id``, ``division`` (train/val), ``category`` (normal / hatespeech /
offensive) and ``label`` (MBIB's binary: 1 hatespeech).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets import LoaderError
from training.datasets._io import (
    option_list,
    pick_one,
    read_table,
    read_text,
    require_columns,
    source_files,
    text_field,
    with_text,
)
from training.datasets.cleaning import remove_words

CATEGORIES = {0: "normal", 1: "hatespeech", 2: "offensive", 3: "undecided"}
DEFAULT_SPLITS = ["train", "val"]
DEFAULT_PLACEHOLDER_WORDS = ["user", "number"]


def _divisions(source: SourceConfig, path: Path, splits: list[str]) -> dict[str, str]:
    try:
        divisions = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise LoaderError(f"source {source.name!r}: {path.name} is not valid JSON: {exc}") from exc
    missing = [split for split in splits if split not in divisions]
    if missing:
        raise LoaderError(f"source {source.name!r}: {path.name} has no division(s) {missing}")
    return {post_id: split for split in splits for post_id in divisions[split]}


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    paths = source_files(source, data_root)
    csv_path = pick_one(source, paths, ".csv", "majority-label CSV")
    division_of = _divisions(
        source,
        pick_one(source, paths, ".json", "post_id_divisions"),
        option_list(source, "splits", DEFAULT_SPLITS),
    )
    frame = read_table(csv_path, dtype=str, keep_default_na=False)
    frame = frame.rename(columns={frame.columns[0]: "post_id"})
    require_columns(frame, ["category", "label"], source=source, path=csv_path)
    frame = with_text(frame, text_field(source, "text"), source=source, path=csv_path)
    frame["division"] = frame["post_id"].map(division_of)
    frame = frame[frame["division"].notna()].reset_index(drop=True)
    frame["category"] = pd.to_numeric(frame["category"], errors="raise").map(CATEGORIES)
    frame["label"] = pd.to_numeric(frame["label"], errors="raise").astype("int64")
    words = option_list(source, "placeholder_words", DEFAULT_PLACEHOLDER_WORDS)
    frame["text"] = [remove_words(text, words) for text in frame["text"]]
    return frame[["text", "post_id", "division", "category", "label"]]
