"""The identity template set and the Borkan et al. bias metrics over it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.bias import TemplateError, bias_report, load_templates, power_mean, summarize, term_metrics

WAR_NEWS_TERMS = {"ukrainian", "russian", "jewish", "muslim", "refugee", "immigrant", "gay", "black", "woman"}


def test_template_set_in_the_repository_is_large_enough_and_balanced() -> None:
    templates = load_templates()
    frame = templates.expand()
    assert len(templates.templates) >= 20 and len(templates.terms) >= 25
    assert {term.name for term in templates.terms} >= WAR_NEWS_TERMS
    assert {"toxicity", "identity_attack"} <= set(templates.labels)
    assert len(frame) == templates.size == frame["text"].nunique()  # every sentence distinct
    per_term = frame.groupby("term")["toxic"].agg(["count", "sum"])
    assert per_term["count"].nunique() == 1 and (per_term["sum"] * 2 == per_term["count"]).all()
    assert not frame["text"].str.contains(r"[{}]").any()  # every placeholder filled
    assert frame["text"].str[0].str.isupper().all()
    muslim = frame[(frame["term"] == "muslim") & (frame["template"] == 0)]["text"].tolist()
    assert "Muslims are kind." in muslim and "Muslims are disgusting." in muslim


def test_metrics_match_the_definitions_on_a_model_biased_against_one_term() -> None:
    templates = load_templates()
    frame = templates.expand()
    y = frame["toxic"].to_numpy()
    rng = np.random.default_rng(0)
    scores = np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.1, len(y))
    muslim = frame["term"].to_numpy() == "muslim"
    scores[muslim & (y == 0)] += 0.5  # non-toxic mentions of one identity score like abuse
    per_term = term_metrics(frame, scores, threshold=0.6)

    background = ~muslim
    bpsn = (muslim & (y == 0)) | (background & (y == 1))
    assert per_term["muslim"]["bpsn_auc"] == pytest.approx(roc_auc_score(y[bpsn], scores[bpsn]))
    bnsp = (muslim & (y == 1)) | (background & (y == 0))
    assert per_term["muslim"]["bnsp_auc"] == pytest.approx(roc_auc_score(y[bnsp], scores[bnsp]))
    assert per_term["muslim"]["subgroup_auc"] == pytest.approx(roc_auc_score(y[muslim], scores[muslim]))
    assert per_term["muslim"]["fpr"] == pytest.approx(float((scores[muslim & (y == 0)] >= 0.6).mean()))

    others = [m for term, m in per_term.items() if term != "muslim"]
    assert per_term["muslim"]["bpsn_auc"] < 0.6 < min(m["bpsn_auc"] for m in others)
    assert per_term["muslim"]["fpr"] > 0.5 > max(m["fpr"] for m in others)
    assert per_term["muslim"]["bnsp_auc"] > max(m["bnsp_auc"] for m in others)  # it is over-flagged, not missed

    summary = summarize(per_term)
    assert summary["bpsn_auc"]["min_term"] == "muslim" and summary["fpr"]["max_term"] == "muslim"
    assert summary["bpsn_auc"]["min"] <= summary["bpsn_auc"]["power_mean"] <= summary["bpsn_auc"]["mean"]

    report = bias_report(templates, ["toxicity", "insult"], np.column_stack([scores, scores]), {"toxicity": 0.6},
                         frame=frame)
    assert set(report["labels"]) == {"toxicity"}  # insult is not in the template set's check list
    assert report["templates"]["sentences"] == len(frame)


def test_power_mean_weighs_the_worst_term() -> None:
    assert power_mean([0.9, 0.9, 0.9]) == pytest.approx(0.9)
    assert power_mean([0.9, 0.9, 0.5]) < np.mean([0.9, 0.9, 0.5]) - 0.15
    assert power_mean([]) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('templates = ["{plural} are fine."]', "must use"),
        ('templates = ["{plural} are {filler} {oops}."]', "must use"),
        ('templates = ["{plural} are {filler}."]\n[fillers]\ntoxic = ["bad"]\nnon_toxic = ["bad"]', "both"),
    ],
)
def test_malformed_template_files_are_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TemplateError, match=message):
        load_templates(path)
