"""Reported copies: deterministic, keep the claim, flip positives to 0 and leave unknowns unknown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.datasets.cleaning import text_keys
from training.narratives.augment import add_reported_copies, reported, reported_texts
from training.narratives.labeling_functions import POSITIVE, apply_lfs, majority_vote

CLAIMS = [
    "The White Helmets staged the chemical attack in Douma.",
    "MH17 was a false flag by the SBU",
    "There was no chemical attack in Khan Sheikhoun",
    "The deep state planned this war.",
]


def test_reported_is_deterministic_and_keeps_the_claim() -> None:
    for claim in CLAIMS:
        assert reported(claim) == reported(claim)
        text = reported(claim)
        assert text != claim
        core = claim.rstrip(".")[4:]
        assert core in text
    assert len({reported(CLAIMS[0], variant) for variant in range(6)}) > 1
    assert reported_texts(CLAIMS) == [reported(c) for c in CLAIMS]


def test_reported_copies_mostly_do_not_look_like_endorsement_to_the_lfs() -> None:
    claims = [f"The massacre in Bucha was staged by {who}." for who in ("Kyiv", "MI6", "actors", "the West")] * 5
    texts = [reported(claim, variant) for variant, claim in enumerate(claims)]
    votes = majority_vote(apply_lfs(texts), "atrocity_denial")
    assert (votes != POSITIVE).mean() >= 0.5


def test_add_reported_copies_labels() -> None:
    frame = pd.DataFrame(
        {
            "text": ["Bucha was staged.", "Chemtrails are real.", "Nice weather."],
            "atrocity_denial": [1.0, np.nan, 0.0],
            "conspiracy": [np.nan, 1.0, 0.0],
            "source": ["a", "b", "c"],
        }
    )
    out = add_reported_copies(frame, ["atrocity_denial", "conspiracy"], copies_per_row=2)
    copies = out[out["augmented"]]
    assert len(out) == 3 + 2 * 2
    assert set(copies["source"]) == {"a", "b"}
    first = copies[copies["source"] == "a"]
    assert (first["atrocity_denial"] == 0).all() and first["conspiracy"].isna().all()
    second = copies[copies["source"] == "b"]
    assert second["atrocity_denial"].isna().all() and (second["conspiracy"] == 0).all()
    assert not out.loc[~out["augmented"], "text"].isin(copies["text"]).any()
    assert out.loc[~out["augmented"]].drop(columns="augmented").equals(frame)


def test_add_reported_copies_recomputes_the_dedup_key_and_keeps_the_split() -> None:
    frame = pd.DataFrame(
        {"text": ["Bucha was staged."], "key": ["bucha was staged"], "split": ["val"], "atrocity_denial": [1.0]}
    )
    out = add_reported_copies(frame, ["atrocity_denial"], copies_per_row=1)
    copy = out[out["augmented"]].iloc[0]
    assert copy["split"] == "val"
    assert copy["key"] == text_keys([copy["text"]])[0] != "bucha was staged"


# ------------------------------------------------------------------ the corpus hook: [augmentation.reported_copies]

DENIALS = [f"The massacre in town number {i} was staged by actors." for i in range(40)]
PLOTS = [f"The elites planned crisis number {i} in secret meetings." for i in range(40)]
CLEAN = [f"What a lovely morning in park number {i}." for i in range(40)]


def _augmented_config(tmp_path, copies: dict | None):
    """Two CSV sources with toxicity and narrative columns; ``copies`` is the [augmentation.reported_copies]
    table (None: no augmentation)."""
    from training.config import parse_config

    rows = (
        [{"text": t, "toxicity": 1, "denial": 1, "plot": 0} for t in DENIALS]
        + [{"text": t, "toxicity": 0, "denial": 0, "plot": 1} for t in PLOTS]
        + [{"text": t, "toxicity": 0, "denial": 0, "plot": 0} for t in CLEAN]
    )
    for name in ("comments", "claims"):
        pd.DataFrame(rows).to_csv(tmp_path / f"{name}.csv", index=False)
    rules = {
        "toxicity": {"positive": "toxicity == 1", "negative": "toxicity == 0"},
        "atrocity_denial": {"positive": "denial == 1", "negative": "denial == 0"},
        "conspiracy": {"positive": "plot == 1", "negative": "plot == 0"},
    }
    raw = {
        "model": {"name": "m", "version": "0", "labels": ["toxicity", "atrocity_denial", "conspiracy"]},
        "data": {"root": str(tmp_path), "val_fraction": 0.3, "seed": 1},
        "sources": [
            {"name": name, "loader": "csv", "files": [f"{name}.csv"], "labels": rules}
            for name in ("comments", "claims")
        ],
    }
    if copies is not None:
        raw["augmentation"] = {"reported_copies": copies}
    return parse_config(raw)


def test_corpus_adds_reported_copies_to_train_only(tmp_path) -> None:
    from training.corpus import build_corpus

    labels = ["atrocity_denial", "conspiracy"]
    table = {"labels": labels, "copies_per_row": 2, "exclude_sources": ["claims"]}
    plain = build_corpus(_augmented_config(tmp_path, None)).frame
    corpus = build_corpus(_augmented_config(tmp_path, table))
    frame = corpus.frame
    original_keys = set(plain["key"])
    copies = frame[~frame["key"].isin(original_keys)]

    # the sources' own rows are untouched; copies come only from the training positives of "comments"
    assert frame[frame["key"].isin(original_keys)].reset_index(drop=True).equals(plain)
    train_positives = plain[
        (plain["split"] == "train") & (plain["source"] == "comments") & (plain[labels] == 1).any(axis=1)
    ]
    assert (plain["split"] == "val").any() and len(train_positives) > 0
    # two framings per positive, less the rare draw of the same framing twice (one row per source and key)
    assert 1.8 * len(train_positives) <= len(copies) <= 2 * len(train_positives)
    assert not copies.duplicated(["source", "key"]).any()
    assert corpus.augmented == {"comments": len(copies)}
    assert set(copies["source"]) == {"comments"} and (copies["split"] == "train").all()
    assert not set(copies["key"]) & set(frame.loc[frame["split"] == "val", "key"])
    val_claims = plain.loc[(plain["split"] == "val") & (plain[labels] == 1).any(axis=1), "text"]
    assert not any(claim.rstrip(".")[4:] in copy for claim in val_claims for copy in copies["text"])

    # a copy is negative exactly for the narrative label its original asserted; every other label is unknown
    denial_copies = copies[copies["text"].str.contains("massacre")]
    plot_copies = copies[copies["text"].str.contains("elites")]
    assert len(denial_copies) + len(plot_copies) == len(copies)
    assert (denial_copies["atrocity_denial"] == 0).all() and denial_copies["conspiracy"].isna().all()
    assert (plot_copies["conspiracy"] == 0).all() and plot_copies["atrocity_denial"].isna().all()
    assert copies["toxicity"].isna().all(), "unannotated label is unknown, not negative"
    assert (copies["weight"] == 1.0).all()


def test_reported_copies_config_is_checked(tmp_path) -> None:
    import pytest

    from training.config import ConfigError

    with pytest.raises(ConfigError, match=r"not in model\.labels"):
        _augmented_config(tmp_path, {"labels": ["threat"]})
    with pytest.raises(ConfigError, match="no sources named"):
        _augmented_config(tmp_path, {"labels": ["conspiracy"], "exclude_sources": ["nope"]})
    off = _augmented_config(tmp_path, {"labels": ["conspiracy"], "copies_per_row": 0})
    from training.corpus import build_corpus

    assert build_corpus(off).augmented == {}
