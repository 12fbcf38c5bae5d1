"""Schema and balance of the hand-written development set and of the minimal pairs."""

from __future__ import annotations

import json

import pytest

from training.datasets.cleaning import text_keys
from training.narratives import DEV_SET_PATH, MINIMAL_PAIRS_PATH, NARRATIVE_LABELS
from training.narratives.evaluate import load_dev_set, load_minimal_pairs
from training.narratives.labeling_functions import NEGATIVE, apply_lfs, majority_vote


def _raw_rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dev_set_schema() -> None:
    rows = _raw_rows(DEV_SET_PATH)
    assert len(rows) >= 240
    for row in rows:
        assert set(row) <= {"text", "note", *NARRATIVE_LABELS}, row
        assert isinstance(row["text"], str) and row["text"].strip() == row["text"] and len(row["text"]) >= 10
        for label in NARRATIVE_LABELS:
            assert row[label] in (0, 1), row
        assert isinstance(row.get("note", ""), str)


def test_dev_set_has_no_duplicates() -> None:
    keys = text_keys(load_dev_set()["text"])
    assert len(keys) == len(set(keys))


def test_dev_set_balance() -> None:
    dev = load_dev_set()
    n = len(dev)
    denial, plot = dev["atrocity_denial"], dev["conspiracy"]
    assert 0.2 <= denial.mean() <= 0.4
    assert 0.15 <= plot.mean() <= 0.35
    assert ((denial == 1) & (plot == 1)).sum() >= 10  # false-flag texts carry both
    assert ((denial == 1) & (plot == 0)).sum() >= 30
    assert ((denial == 0) & (plot == 1)).sum() >= 25
    assert ((denial == 0) & (plot == 0)).sum() >= n / 2  # plenty of negatives


def test_dev_set_negatives_include_reporting_and_debunking() -> None:
    dev = load_dev_set()
    votes = majority_vote(apply_lfs(dev["text"]), "atrocity_denial")
    reported = (votes == NEGATIVE) & (dev["atrocity_denial"] == 0).to_numpy()
    assert reported.sum() >= 15, "hard negatives (reports/debunks of denial) are the point of the dev set"


def test_dev_set_covers_the_events() -> None:
    text = " ".join(load_dev_set()["text"]).lower()
    for event in (
        "bucha",
        "mariupol",
        "kramatorsk",
        "izium",
        "srebrenica",
        "ghouta",
        "douma",
        "mh17",
        "holocaust",
        "chemtrails",
        "9/11",
    ):
        assert event in text, event


def test_minimal_pairs_schema() -> None:
    rows = _raw_rows(MINIMAL_PAIRS_PATH)
    assert len(rows) >= 40
    for row in rows:
        assert set(row) == {"event", "endorsed", "reporting"}, row
        assert all(isinstance(row[k], str) and row[k].strip() for k in row)
        assert row["endorsed"] != row["reporting"]
    pairs = load_minimal_pairs()
    assert pairs["event"].nunique() >= 20
    assert not pairs["endorsed"].duplicated().any() and not pairs["reporting"].duplicated().any()


def test_minimal_pairs_are_length_matched() -> None:
    """A reporting twin much longer than its endorsed text would win for a bag-of-words model by dilution."""
    pairs = load_minimal_pairs()
    ratio = pairs["reporting"].str.len() / pairs["endorsed"].str.len()
    assert ratio.between(0.75, 1.4).all(), pairs.loc[~ratio.between(0.75, 1.4), "event"].tolist()
    assert ratio.mean() == pytest.approx(1.0, abs=0.2)


def test_minimal_pairs_are_apart_from_the_dev_set() -> None:
    dev_keys = set(text_keys(load_dev_set()["text"]))
    pairs = load_minimal_pairs()
    assert not dev_keys & set(text_keys([*pairs["endorsed"], *pairs["reporting"]]))
