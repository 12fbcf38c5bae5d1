"""Labeling functions: votes on clear cases, the reporting rule, the report's arithmetic, pattern words."""

from __future__ import annotations

import numpy as np
import pytest

from training.narratives import NARRATIVE_LABELS
from training.narratives.evaluate import load_dev_set, load_minimal_pairs
from training.narratives.labeling_functions import (
    ABSTAIN,
    LABELING_FUNCTIONS,
    NEGATIVE,
    POSITIVE,
    LabelingFunction,
    apply_lfs,
    has_pattern_word,
    labeling_functions,
    lf_columns,
    lf_report,
    majority_vote,
    pattern_free_mask,
    pattern_words,
)

DENIALS = [
    "Bucha was staged, those bodies were crisis actors.",
    "The Mariupol theatre massacre never happened, it was all a hoax.",
    "Douma was a false flag, the White Helmets gassed their own people to blame Assad.",
    "holohoax. there were no gas chambers at auschwitz",
    "Srebrenica death toll was inflated, only a few hundred died.",
]
REPORTS = [
    "Russian state TV claims Bucha was staged. Satellite images show the bodies were there for weeks.",
    "My uncle keeps saying the Mariupol theatre massacre never happened. It's heartbreaking.",
    "The 'false flag' story about Douma was debunked by the OPCW.",
    "Holocaust deniers say there were no gas chambers at Auschwitz. They are wrong.",
    "Deniers insist the Srebrenica death toll was inflated; the court found otherwise.",
]
PLOTS = [
    "The deep state planned this war years ago.",
    "Chemtrails over my house again, they are spraying us.",
    "9/11 was an inside job.",
    "The State Department is running Ukraine.",
]


def _votes(texts: list[str], label: str) -> np.ndarray:
    return majority_vote(apply_lfs(texts), label)


def test_lf_names_unique_and_labels_known() -> None:
    names = [lf.name for lf in LABELING_FUNCTIONS]
    assert len(names) == len(set(names))
    assert {lf.label for lf in LABELING_FUNCTIONS} == set(NARRATIVE_LABELS)
    for label in NARRATIVE_LABELS:
        votes = {lf.vote for lf in labeling_functions(label)}
        assert votes == {POSITIVE, NEGATIVE}, f"{label} needs LFs voting both ways"


def test_invalid_lf_rejected() -> None:
    with pytest.raises(ValueError):
        LabelingFunction("x", "toxicity", POSITIVE, ("a",))
    with pytest.raises(ValueError):
        LabelingFunction("x", "conspiracy", 2, ("a",))


def test_denials_vote_positive() -> None:
    assert (_votes(DENIALS, "atrocity_denial") == POSITIVE).all()


def test_reporting_and_debunking_do_not_fire_denial_lfs() -> None:
    positive_columns = [
        j for j, lf in enumerate(LABELING_FUNCTIONS) if lf.label == "atrocity_denial" and lf.vote == POSITIVE
    ]
    matrix = apply_lfs(REPORTS)
    assert (matrix[:, positive_columns] != POSITIVE).all()
    assert (_votes(REPORTS, "atrocity_denial") == NEGATIVE).all()


def test_minimal_pair_reporting_texts_never_vote_denial() -> None:
    pairs = load_minimal_pairs()
    reporting = _votes(pairs["reporting"].tolist(), "atrocity_denial")
    assert (reporting != POSITIVE).all(), pairs.loc[reporting == POSITIVE, "reporting"].tolist()
    # and the LFs are not blind: they catch a good share of the endorsed twins
    endorsed = _votes(pairs["endorsed"].tolist(), "atrocity_denial")
    assert (endorsed == POSITIVE).mean() >= 0.3


def test_plots_vote_conspiracy_and_mockery_does_not() -> None:
    assert (_votes(PLOTS, "conspiracy") == POSITIVE).all()
    mocking = ["My aunt thinks chemtrails are real lol", "The deep state conspiracy theory was debunked again."]
    assert (_votes(mocking, "conspiracy") != POSITIVE).all()


def test_topic_alone_does_not_fire() -> None:
    neutral = [
        "Rest in peace to everyone killed in Bucha.",
        "The MH17 trial took years.",
        "Assad gassed his own people.",
    ]
    assert (_votes(neutral, "atrocity_denial") != POSITIVE).all()
    assert (_votes(neutral, "conspiracy") != POSITIVE).all()


def test_apply_lfs_shape_and_values() -> None:
    matrix = apply_lfs([*DENIALS, "", None])  # type: ignore[list-item]
    assert matrix.shape == (len(DENIALS) + 2, len(LABELING_FUNCTIONS))
    assert matrix.dtype == np.int8
    assert set(np.unique(matrix)) <= {ABSTAIN, NEGATIVE, POSITIVE}
    assert (matrix[-2:] == ABSTAIN).all()


def test_lf_report_arithmetic_on_a_known_matrix() -> None:
    lfs = (
        LabelingFunction("a", "conspiracy", POSITIVE, ("x",)),
        LabelingFunction("b", "conspiracy", NEGATIVE, ("y",)),
        LabelingFunction("c", "atrocity_denial", POSITIVE, ("z",)),
    )
    matrix = np.array(
        [
            [1, -1, 1],  # a alone among conspiracy LFs (c is another label: no overlap)
            [1, 0, -1],  # a and b conflict
            [-1, 0, -1],  # b alone
            [-1, -1, -1],
        ],
        dtype=np.int8,
    )
    report = lf_report(matrix, lfs, gold={"conspiracy": [1, 0, 0, 0]}).set_index("lf")
    assert report.loc["a", "coverage"] == pytest.approx(0.5)
    assert report.loc["a", "overlap"] == pytest.approx(0.25)
    assert report.loc["a", "conflict"] == pytest.approx(0.25)
    assert report.loc["b", "coverage"] == pytest.approx(0.5)
    assert report.loc["c", "overlap"] == pytest.approx(0.0)
    assert report.loc["a", "accuracy"] == pytest.approx(0.5)  # right on row 0, wrong on row 1
    assert report.loc["b", "accuracy"] == pytest.approx(1.0)
    assert np.isnan(report.loc["c", "accuracy"])  # no gold given for its label
    with pytest.raises(ValueError):
        lf_report(matrix[:, :2], lfs)


def test_majority_vote_ties_abstain() -> None:
    lfs = (
        LabelingFunction("a", "conspiracy", POSITIVE, ("x",)),
        LabelingFunction("b", "conspiracy", NEGATIVE, ("y",)),
    )
    matrix = np.array([[1, 0], [1, -1], [-1, 0], [-1, -1]], dtype=np.int8)
    assert majority_vote(matrix, "conspiracy", lfs).tolist() == [ABSTAIN, POSITIVE, NEGATIVE, ABSTAIN]
    with pytest.raises(ValueError):
        majority_vote(matrix, "atrocity_denial", lfs)


def test_pattern_words_cover_triggers_not_topics() -> None:
    words = pattern_words()
    assert len(words) == len(set(words)) and len(words) > 50
    assert has_pattern_word("it was STAGED")
    assert has_pattern_word("Russian TV claims it")  # reporting guards are pattern words too
    assert not has_pattern_word("The bodies in Bucha were laid out in rows for the cameras.")
    mask = pattern_free_mask(["a hoax", "they moved the corpses at night", "deep state"])
    assert mask.tolist() == [False, True, False]


def test_dev_set_has_a_pattern_free_subset_with_positives() -> None:
    dev = load_dev_set()
    free = pattern_free_mask(dev["text"])
    assert free.sum() >= 100
    assert dev.loc[free, "atrocity_denial"].sum() >= 30
    assert dev.loc[free, "conspiracy"].sum() >= 20


def test_lf_columns_types() -> None:
    frame = lf_columns([*DENIALS, *REPORTS, *PLOTS, "hello"])
    assert list(frame.columns) == [
        "lf_atrocity_denial",
        "lf_conspiracy",
        "denial_vocabulary",
        "plot_vocabulary",
        "narrative_pattern",
        "atrocity_context",
    ]
    assert len(frame) == len(DENIALS) + len(REPORTS) + len(PLOTS) + 1
    for column in ("denial_vocabulary", "plot_vocabulary", "narrative_pattern", "atrocity_context"):
        assert frame[column].dtype == bool
    assert frame["lf_atrocity_denial"].iloc[: len(DENIALS)].eq(POSITIVE).all()
    assert not frame["narrative_pattern"].iloc[-1]
