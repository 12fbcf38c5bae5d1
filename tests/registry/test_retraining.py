"""Reviewer-exported labels as a training source: the scores of the corrected examples move as corrected."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.registry.synthetic import REVIEWER_APPROVED, REVIEWER_REMOVED, build_config, reviewer_source_snippet
from threadguard.bundle import ModelBundle, load_bundle
from training.corpus import build_corpus
from training.datasets.cleaning import text_key
from training.evaluate import score_bundle

Candidate = Callable[[str], ModelBundle]


def test_the_documented_reviewer_source_reads_an_export(data_root: Path) -> None:
    """docs/retraining.md's [[sources]] block, over a file in the export's format, labels rows as decided."""
    snippet = tomllib.loads(reviewer_source_snippet())["sources"][0]
    assert snippet["loader"] == "jsonl"
    assert set(snippet["labels"]) >= {"toxicity", "severe_toxicity", "identity_attack", "insult", "profanity",
                                      "threat"}
    corpus = build_corpus(build_config(data_root, reviewer=True), data_root=data_root)
    rows = corpus.frame[corpus.frame["source"] == "reviewer-exports"].set_index("key")
    assert len(rows) == len(REVIEWER_APPROVED) + len(REVIEWER_REMOVED)
    approved = rows.loc[text_key(REVIEWER_APPROVED[0])]
    assert (approved["toxicity"], approved["insult"]) == (0.0, 0.0) and math.isnan(approved["identity_attack"])
    removed = rows.loc[text_key(REVIEWER_REMOVED[0])]
    assert (removed["toxicity"], removed["identity_attack"]) == (1.0, 1.0) and math.isnan(removed["insult"])
    assert (rows["weight"] == snippet["weight"]).all()
    exported = (data_root / "reviewer-exports" / "2025-01.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(exported[0])["threat"] is None  # unknown stays unknown, not negative


def test_retraining_with_reviewer_corrections_moves_their_scores(candidate: Candidate, data_root: Path) -> None:
    before, after = candidate("1.1.0"), candidate("1.2.0")
    assert [d.name for d in after.manifest.datasets][-1] == "reviewer-exports"
    assert "reviewer-exports" not in [d.name for d in before.manifest.datasets]
    labels = before.labels
    corrections = [(text, label, 0) for text in REVIEWER_APPROVED for label in ("toxicity", "insult")]
    corrections += [(text, label, 1) for text in REVIEWER_REMOVED for label in ("toxicity", "identity_attack")]
    texts = list(dict.fromkeys(text for text, _, _ in corrections))
    old = score_bundle(load_bundle(before.path), texts)
    new = score_bundle(load_bundle(after.path), texts)
    moves = []
    for text, label, target in corrections:
        i, j = texts.index(text), labels.index(label)
        toward = (new[i, j] - old[i, j]) if target == 1 else (old[i, j] - new[i, j])
        moves.append(toward)
        assert toward >= -1e-3, f"{label} of {text!r} moved away from {target}: {old[i, j]:.3f} -> {new[i, j]:.3f}"
    moves_array = np.array(moves)
    assert moves_array.mean() > 0.3  # on average a third of the score range toward the reviewers' decision
    assert (moves_array > 0.05).mean() > 0.6  # and most of them substantially, not by rounding
    # the model did not just learn the reviewer source's base rate: fresh texts of the same kinds follow
    fresh = score_bundle(load_bundle(after.path), ["You are a killer pianist, great show",
                                                  "Refugees arrived in the city, back to the swamp"])
    fresh_old = score_bundle(load_bundle(before.path), ["You are a killer pianist, great show",
                                                       "Refugees arrived in the city, back to the swamp"])
    tox = labels.index("toxicity")
    assert fresh[0, tox] < fresh_old[0, tox] and fresh[1, tox] > fresh_old[1, tox]
