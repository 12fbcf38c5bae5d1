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
