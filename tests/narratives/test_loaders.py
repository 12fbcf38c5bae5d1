"""The EUvsDisinfo and SemEval loaders on the real shared data, and the label rules of sources.toml on them."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config import SourceConfig
from training.datasets import LoaderError, euvsdisinfo, semeval_persuasion
from training.datasets.cleaning import text_keys
from training.datasets.rules import apply_rules
from training.narratives import NARRATIVE_LABELS
from training.narratives.labeling_functions import POSITIVE

from ._data import require

FRAGMENT = Path(__file__).resolve().parents[2] / "training" / "narratives" / "sources.toml"
EUV_FILES = ["euvsdisinfo_claims/cknabs_posts.csv.gz", "euvsdisinfo_claims/kalkun_full_dataset.csv.gz"]
SEMEVAL_FILES = [
    "semeval2023_t3_persuasion/semeval2023_t3_st3_en_train.jsonl.gz",
    "semeval2023_t3_persuasion/semeval2023_t3_st3_en_dev.jsonl.gz",
]


def _fragment_source(name: str, **options: object) -> SourceConfig:
    raw = tomllib.loads(FRAGMENT.read_text(encoding="utf-8"))
    (source,) = [item for item in raw["sources"] if item["name"] == name]
    source = {**source, "options": {**source.get("options", {}), **options}}
    return SourceConfig.model_validate(source)


@cache
def _euvsdisinfo() -> pd.DataFrame:
    return euvsdisinfo.load(_fragment_source("euvsdisinfo"), require(*EUV_FILES))


@cache
def _semeval() -> pd.DataFrame:
    return semeval_persuasion.load(_fragment_source("semeval_persuasion"), require(*SEMEVAL_FILES))


def test_fragment_is_a_valid_config_piece() -> None:
    raw = tomllib.loads(FRAGMENT.read_text(encoding="utf-8"))
    for source in raw["sources"]:
        config = SourceConfig.model_validate(source)
        assert set(config.labels) <= set(NARRATIVE_LABELS)
    for label in NARRATIVE_LABELS:
        assert raw["model"]["label_info"][label]["experimental"] is True


def test_euvsdisinfo_columns_and_kinds() -> None:
    frame = _euvsdisinfo()
    assert set(frame["kind"]) == set(euvsdisinfo.KINDS)
    assert (frame["text"].str.len() > 0).all()
    for column in ("tag_atrocity", "tag_conspiracy", "tag_plot", "denial_vocabulary", "atrocity_context"):
        assert frame[column].dtype == bool
    assert set(frame["lf_atrocity_denial"].unique()) <= {-1, 0, 1}
    originals = frame[frame["kind"] != "claim_reported"]
    assert not pd.Series(text_keys(originals["text"])).duplicated().any()
    # the cknabs file alone has 10,892 titles; both files together give well over that many rows
    assert (frame["kind"] == "claim_title").sum() > 10_000
    assert frame["tag_conspiracy"].sum() > 1_000


def test_euvsdisinfo_reported_copies_repeat_claims_inside_frames() -> None:
    frame = _euvsdisinfo()
    reported = frame[frame["kind"] == "claim_reported"]
    claims = frame[frame["kind"].isin(["claim_title", "claim_summary"])]
    narrative = claims[(claims["lf_atrocity_denial"] == POSITIVE) | claims["tag_conspiracy"]]
    assert len(reported) >= len(narrative)
    assert (reported["lf_atrocity_denial"] != POSITIVE).mean() > 0.9
    sample = narrative["text"].iloc[0].rstrip(".")[5:40].lower()
    assert any(sample in text.lower() for text in reported["text"])


def test_euvsdisinfo_label_rules() -> None:
    frame = _euvsdisinfo()
    source = _fragment_source("euvsdisinfo")
    labels = apply_rules(frame, source, list(NARRATIVE_LABELS))
    for label in NARRATIVE_LABELS:
        assert (labels[label] == 1).sum() >= 100, label
        assert (labels[label] == 0).sum() >= 5_000, label
        # debunks and reported claims are hard negatives, never positives
        hard = frame["kind"].isin(["disproof", "claim_with_disproof", "claim_reported"])
        assert (labels.loc[hard, label] == 0).all()
    denial = frame[labels["atrocity_denial"] == 1]["text"].str.lower()
    assert denial.str.contains("staged|false flag|fake|no chemical attack|provocation").mean() > 0.5


def test_euvsdisinfo_options_and_errors(tmp_path: Path) -> None:
    root = require(*EUV_FILES)
    only_claims = euvsdisinfo.load(_fragment_source("euvsdisinfo", kinds=["claim_title"], reporting_frames=0), root)
    assert set(only_claims["kind"]) == {"claim_title"}
    with pytest.raises(LoaderError):
        euvsdisinfo.load(_fragment_source("euvsdisinfo", kinds=["tweets"]), root)
    stray = tmp_path / "something_else.csv"
    stray.write_text("a,b\n1,2\n", encoding="utf-8")
    source = SourceConfig(name="x", loader="euvsdisinfo", files=["something_else.csv"])
    with pytest.raises(LoaderError):
        euvsdisinfo.load(source, tmp_path)


def test_semeval_columns() -> None:
    frame = _semeval()
    assert set(frame["language"]) == {"en"}
    assert set(frame["split"]) == {"train", "dev"}
    assert len(frame) == 9_498 + 3_127  # PROVENANCE.md counts for en train + dev
    assert (frame["n_techniques"] == frame["techniques"].str.split("|").map(lambda t: len([x for x in t if x]))).all()
    assert frame["t_doubt"].sum() == 518 + 187
    assert all(frame[semeval_persuasion.technique_column(name)].dtype == bool for name in semeval_persuasion.TECHNIQUES)
    assert (frame["n_techniques"] == 0).sum() == (9_498 - 3_760) + (3_127 - 1_120)


def test_semeval_label_rules() -> None:
    frame = _semeval()
    labels = apply_rules(frame, _fragment_source("semeval_persuasion"), list(NARRATIVE_LABELS))
    assert (labels["atrocity_denial"] == 1).sum() == 0  # no positive rule: the denial LFs are noise on news prose
    assert (labels["conspiracy"] == 1).sum() >= 20
    assert labels.loc[frame["n_techniques"] > 0, "atrocity_denial"].isna().all()
    negatives = labels["conspiracy"] == 0
    assert (frame.loc[negatives, "n_techniques"] == 0).all()
    assert (frame.loc[negatives, "lf_conspiracy"] != POSITIVE).all()


def test_semeval_language_option_and_bad_file(tmp_path: Path) -> None:
    root = require(*SEMEVAL_FILES)
    with pytest.raises(LoaderError):
        semeval_persuasion.load(_fragment_source("semeval_persuasion", languages=["ru"]), root)
    bad = tmp_path / "paragraphs.jsonl"
    bad.write_text('{"article_id": 1, "paragraph_id": 1, "text": "x", "labels": []}\n', encoding="utf-8")
    source = SourceConfig(name="x", loader="semeval_persuasion", files=["paragraphs.jsonl"])
    with pytest.raises(LoaderError):
        semeval_persuasion.load(source, tmp_path)


def test_technique_column_names_are_identifiers() -> None:
    columns = [semeval_persuasion.technique_column(name) for name in semeval_persuasion.TECHNIQUES]
    assert all(column.isidentifier() for column in columns)
    assert len(set(columns)) == len(columns)
    assert semeval_persuasion.technique_column("Name_Calling-Labeling") == "t_name_calling_labeling"


def test_dev_set_is_not_in_the_training_sources() -> None:
    from training.narratives.evaluate import load_dev_set, load_minimal_pairs

    training_keys = set(text_keys(_euvsdisinfo()["text"])) | set(text_keys(_semeval()["text"]))
    pairs = load_minimal_pairs()
    held_out = [*load_dev_set()["text"], *pairs["endorsed"], *pairs["reporting"]]
    overlap = [text for text, key in zip(held_out, text_keys(held_out), strict=True) if key in training_keys]
    assert overlap == []
    assert np.all([len(key) > 0 for key in text_keys(held_out)])
