"""EUvsDisinfo disinformation cases: analyst-written claim texts and their debunks (``euvsdisinfo_claims``).

Two scrapes of the same database are read, recognised by file name:

- ``cknabs_posts.csv(.gz)``: one claim title per case, ``+``-joined keyword tags;
- ``kalkun_full_dataset.csv(.gz)`` (``;``-separated): title, ``summary`` (the claim paraphrased by analysts),
  ``disproof`` (the analysts' debunk) and comma-joined keyword tags.

Every claim is disinformation by construction, but only some deny an atrocity or assert a plot, so the loader
returns one row per text with a ``kind`` and the evidence the narrative label rules need:

- ``kind``: ``claim_title`` | ``claim_summary`` (the claim in the outlet's voice), ``disproof`` (the debunk
  alone), ``claim_with_disproof`` (summary followed by its debunk, as the case page shows them: a text that
  *reports and debunks* the claim, which the guidelines label 0; option ``pair_claims_with_disproofs``) or
  ``claim_reported`` (a narrative-looking claim wrapped in a reporting/debunking frame by
  :func:`training.narratives.augment.reported`, 0 by the guidelines; counterfactual augmentation, option
  ``reporting_frames``, default on);
- ``tags``: the case's keyword tags, ``|``-joined;
- ``tag_atrocity``: a tag names a mass-casualty topic (chemical attacks, MH17, White Helmets, Syrian war,
  genocide, Holocaust, war crimes...); ``tag_conspiracy``: an explicit plot tag (Conspiracy theory, false flag,
  Deep state, Secret elites); ``tag_plot``: a broader plot-flavoured topic (Soros, puppets, colour revolutions,
  biological weapons, secret services, CIA, coup, provocation);
- ``lf_atrocity_denial``, ``lf_conspiracy`` (labeling-function majority votes 1/0/-1), ``narrative_pattern``,
  ``atrocity_context``: see :func:`training.narratives.labeling_functions.lf_columns`.

Claims and debunks share topics and vocabulary, so they must stay in one source: a per-source intercept would
otherwise separate them by source instead of by stance. Exact duplicate texts (dedup key) are dropped, first
occurrence kept.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets import LoaderError
from training.datasets._io import option_list, pick_files, read_table, require_columns, source_files
from training.datasets.cleaning import clean_texts, text_keys
from training.narratives.augment import reported_texts
from training.narratives.labeling_functions import lf_columns

ATROCITY_TAGS: tuple[str, ...] = (
    "Chemical weapons/attack",
    "MH17",
    "White Helmets",
    "Syrian War",
    "Aleppo",
    "Genocide",
    "Holocaust",
    "War crimes",
    "Katyn",
    "Odessa tragedy",
)
CONSPIRACY_TAGS: tuple[str, ...] = (
    "Conspiracy theory",
    "Conspiracy",
    "false flag",
    "Deep state",
    "Secret elites / global elites",
)
PLOT_TAGS: tuple[str, ...] = (
    "George Soros",
    "Puppets",
    "Colour revolutions",
    "Biological weapons",
    "Secret services",
    "CIA",
    "Coup",
    "Provocation",
    "Destabilising Russia",
    "election meddling",
)

KINDS = ("claim_title", "claim_summary", "disproof", "claim_with_disproof", "claim_reported")
CLAIM_KINDS = ("claim_title", "claim_summary")

KALKUN_COLUMNS = ("title", "summary", "disproof", "keywords")
CKNABS_COLUMNS = ("title", "keywords")


def _split_tags(raw: object, separator: str) -> list[str]:
    if not isinstance(raw, str):
        return []
    return [tag.strip() for tag in raw.split(separator) if tag.strip()]


def _has_any(tags: Iterable[list[str]], wanted: Iterable[str]) -> list[bool]:
    wanted_folded = {tag.casefold() for tag in wanted}
    return [any(tag.casefold() in wanted_folded for tag in row) for row in tags]


def _rows(texts: Iterable[object], kind: str, tags: list[list[str]], file: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": [text.strip() if isinstance(text, str) else "" for text in texts],
            "kind": kind,
            "tags": ["|".join(row) for row in tags],
            "_tag_list": tags,
            "file": file,
        }
    )


def _read_cknabs(source: SourceConfig, path: Path) -> pd.DataFrame:
    frame = read_table(path, dtype=str, keep_default_na=False)
    require_columns(frame, CKNABS_COLUMNS, source=source, path=path)
    tags = [_split_tags(raw, "+") for raw in frame["keywords"]]
    return _rows(frame["title"], "claim_title", tags, path.name)


def _read_kalkun(source: SourceConfig, path: Path, *, titles: bool, pairs: bool) -> pd.DataFrame:
    frame = read_table(path, sep=";", dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
    require_columns(frame, KALKUN_COLUMNS, source=source, path=path)
    tags = [_split_tags(raw, ",") for raw in frame["keywords"]]
    parts = [_rows(frame["summary"], "claim_summary", tags, path.name)]
    if titles:
        parts.append(_rows(frame["title"], "claim_title", tags, path.name))
    parts.append(_rows(frame["disproof"], "disproof", tags, path.name))
    if pairs:
        combined = [
            f"{summary.strip()} {disproof.strip()}" if summary.strip() and disproof.strip() else ""
            for summary, disproof in zip(frame["summary"], frame["disproof"], strict=True)
        ]
        parts.append(_rows(combined, "claim_with_disproof", tags, path.name))
    return pd.concat(parts, ignore_index=True)


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    """Claims, debunks and claim+debunk texts with tag and labeling-function columns (see module docstring)."""
    paths = source_files(source, data_root)
    cknabs = pick_files(paths, "cknabs_posts")
    kalkun = pick_files(paths, "kalkun")
    unknown = [path for path in paths if path not in cknabs and path not in kalkun]
    unknown = [path for path in unknown if "datapackage" not in path.name]  # schema file, nothing to read
    if unknown:
        raise LoaderError(
            f"source {source.name!r}: cannot tell what {[p.name for p in unknown]} are; expected file names "
            f"containing 'cknabs_posts' or 'kalkun'"
        )
    if not cknabs and not kalkun:
        raise LoaderError(f"source {source.name!r}: no cknabs_posts or kalkun file among {source.files}")
    titles = bool(source.option("include_kalkun_titles", True))
    pairs = bool(source.option("pair_claims_with_disproofs", True))
    kinds = option_list(source, "kinds", list(KINDS))
    if unknown_kinds := sorted(set(kinds) - set(KINDS)):
        raise LoaderError(f"source {source.name!r}: unknown kinds {unknown_kinds}; known: {list(KINDS)}")

    frames = [_read_cknabs(source, path) for path in cknabs]
    frames += [_read_kalkun(source, path, titles=titles, pairs=pairs) for path in kalkun]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["kind"].isin(kinds) & (frame["text"].str.len() > 0)]
    frame = frame.loc[~pd.Series(text_keys(frame["text"]), index=frame.index).duplicated()].reset_index(drop=True)

    tag_lists = frame.pop("_tag_list").tolist()
    frame["tag_atrocity"] = _has_any(tag_lists, option_list(source, "atrocity_tags", list(ATROCITY_TAGS)))
    frame["tag_conspiracy"] = _has_any(tag_lists, option_list(source, "conspiracy_tags", list(CONSPIRACY_TAGS)))
    frame["tag_plot"] = _has_any(tag_lists, option_list(source, "plot_tags", list(PLOT_TAGS)))
    frame = _with_lf_columns(frame)
    copies = int(source.option("reporting_frames", 3))
    if copies > 0 and "claim_reported" in kinds:
        reported = _with_lf_columns(_reported_claims(frame, copies))
        reported = reported.loc[~pd.Series(text_keys(reported["text"]), index=reported.index).duplicated()]
        frame = pd.concat([frame, reported], ignore_index=True)
    return frame


def _with_lf_columns(frame: pd.DataFrame) -> pd.DataFrame:
    lf = lf_columns(clean_texts(frame["text"].tolist()))
    return frame.drop(columns=[c for c in lf.columns if c in frame.columns]).assign(
        **{column: lf[column].to_numpy() for column in lf.columns}
    )


def _reported_claims(frame: pd.DataFrame, copies: int) -> pd.DataFrame:
    """``claim_reported`` rows: every narrative-looking claim inside ``copies`` different reporting frames."""
    narrative = frame["kind"].isin(CLAIM_KINDS) & (
        (frame["lf_atrocity_denial"] == 1)
        | (frame["lf_conspiracy"] == 1)
        | frame["tag_conspiracy"]
        | frame["denial_vocabulary"]
        | frame["plot_vocabulary"]
    )
    parts = []
    for variant in range(copies):
        claims = frame.loc[narrative].copy()
        claims["text"] = reported_texts(claims["text"], variant)
        parts.append(claims)
    reported = pd.concat(parts, ignore_index=True)
    reported["kind"] = "claim_reported"
    return reported
