"""Toxic Spans raw rater files (Pavlopoulos et al.), aggregated per post.

``files`` holds ``comments.csv`` (comment_id, comment_text), ``annotations.csv`` (one row per rater and post)
and ``spans.csv`` (one row per highlighted span, typed Insult / Profane/Obscene / Identity based Attack /
Threat / Other Toxicity). Every post comes from Civil Comments' toxic pool, and the raters' "not toxic" tick
box is unreliable (see the data README), so the useful signal is the spans: per post we count the raters who
highlighted anything, and per span type the raters who marked that type.

Columns returned: ``text``, ``comment_id``, ``n_annotators``; ``span_n`` / ``span_frac`` (raters who
highlighted any span); for each type T in insult, profane, identity_attack, threat, other: ``T_n`` /
``T_frac`` (raters who marked at least one span of type T); and ``all_toxic_frac`` / ``not_toxic_frac``
(tick boxes, for inspection only). Posts without any rater have NaN counts and fractions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.config import SourceConfig
from training.datasets._io import pick_one, read_table, require_columns, source_files, text_field, with_text

# Raw span type (prefix-matched: the file holds truncated labels such as "Insu") -> column stem.
SPAN_TYPES = {
    "Insu": "insult",
    "Profane": "profane",
    "Identity": "identity_attack",
    "Threat": "threat",
    "Other": "other",
}


def span_kind(raw: str) -> str | None:
    """Column stem for a raw span type; None for an empty or unrecognised type (still counts as a span)."""
    raw = raw.strip()
    for prefix, stem in SPAN_TYPES.items():
        if raw and raw.startswith(prefix):
            return stem
    return None


def _truthy(column: pd.Series) -> pd.Series:
    return column.astype(str).str.strip().str.lower().eq("true")


def aggregate(comments: pd.DataFrame, annotations: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    """Per-post rater counts and fractions from the three raw tables (already read as str)."""
    annotations = annotations.drop_duplicates("annotation").assign(
        all_toxic=lambda a: _truthy(a["all toxic"]).astype("int64"),
        not_toxic=lambda a: _truthy(a["not toxic"]).astype("int64"),
    )
    per_post = annotations.groupby("comment_id").agg(
        n_annotators=("annotation", "size"),
        all_toxic_n=("all_toxic", "sum"),
        not_toxic_n=("not_toxic", "sum"),
    )
    spans = spans.assign(kind=spans["type"].fillna("").map(span_kind))
    spans = spans.merge(annotations[["annotation", "comment_id"]], on="annotation", how="inner")
    any_span = spans.drop_duplicates("annotation").groupby("comment_id").size().rename("span_n")
    typed = spans.dropna(subset=["kind"]).drop_duplicates(["annotation", "kind"])
    by_kind = typed.groupby(["comment_id", "kind"]).size().unstack(fill_value=0)
    by_kind = by_kind.reindex(columns=list(SPAN_TYPES.values()), fill_value=0).add_suffix("_n")

    frame = comments.merge(per_post, left_on="comment_id", right_index=True, how="left")
    frame = frame.merge(any_span, left_on="comment_id", right_index=True, how="left")
    frame = frame.merge(by_kind, left_on="comment_id", right_index=True, how="left")
    frame["n_annotators"] = frame["n_annotators"].fillna(0).astype("int64")
    rated = frame["n_annotators"] > 0
    raters = frame["n_annotators"].where(rated, np.nan)
    count_columns = ["span_n", *by_kind.columns, "all_toxic_n", "not_toxic_n"]
    for column in count_columns:
        # a post nobody rated has unknown counts, not zero ones: "T_n == 0" must not make it a negative
        frame[column] = frame[column].fillna(0).where(rated, np.nan).astype(float)
        frame[column.removesuffix("_n") + "_frac"] = frame[column] / raters
    return frame.drop(columns=["all_toxic_n", "not_toxic_n"])


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    paths = source_files(source, data_root)
    comments_path = pick_one(source, paths, "comments", "comments")
    annotations_path = pick_one(source, paths, "annotations", "annotations")
    spans_path = pick_one(source, paths, "spans", "spans")
    comments = read_table(comments_path, dtype=str, keep_default_na=False)
    annotations = read_table(annotations_path, dtype=str, keep_default_na=False)
    spans = read_table(spans_path, dtype=str, keep_default_na=False)
    require_columns(comments, ["comment_id"], source=source, path=comments_path)
    require_columns(
        annotations,
        ["annotation", "comment_id", "all toxic", "not toxic"],
        source=source,
        path=annotations_path,
    )
    require_columns(spans, ["annotation", "type"], source=source, path=spans_path)
    comments = with_text(comments, text_field(source, "comment_text"), source=source, path=comments_path)
    return aggregate(comments[["text", "comment_id"]], annotations, spans).reset_index(drop=True)
