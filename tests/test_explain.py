"""Explanations point at the words that raised a score, with offsets valid for any Unicode text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from threadguard.explain import character_contributions, explain_spans
from training.pipeline import PipelineSettings, fit_pipeline


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(7)
    neutral = ["the", "article", "was", "about", "news", "today", "thanks", "for", "sharing", "good", "point"]
    texts, y = [], []
    for _ in range(600):
        words = list(rng.choice(neutral, size=rng.integers(3, 9)))
        toxic = rng.random() < 0.4
        if toxic:
            words.insert(int(rng.integers(0, len(words))), "idiot")
        texts.append(" ".join(words))
        y.append(float(toxic))
    frame = pd.DataFrame({"text": texts, "source": "synthetic", "toxicity": y, "weight": 1.0})
    return fit_pipeline(frame.iloc[:500], frame.iloc[500:], ["toxicity"],
                        PipelineSettings(min_df=1, max_features=None)).model


@pytest.mark.parametrize("prefix", ["", "😀😀 ", "e\u0301cole\u200b ", "日本語 ", "👩‍👩‍👧 "])
def test_span_offsets_select_the_toxic_word(model, prefix: str) -> None:
    text = prefix + "thanks for sharing, you idiot"
    spans = explain_spans(model, text, ["toxicity"])
    assert spans, "a toxic comment must have at least one span"
    top = spans[0]
    assert top.label == "toxicity" and top.weight > 0
    assert text[top.begin : top.end] == "idiot"


def test_obfuscated_word_is_found(model) -> None:
    text = "good point 1d10t"
    spans = explain_spans(model, text, ["toxicity"])
    assert spans and text[spans[0].begin : spans[0].end] == "1d10t"


def test_contributions_sum_to_the_logit(model) -> None:
    """Character shares add up to the model's logit minus the bias (nothing lost, nothing invented)."""
    text = "you idiot, thanks for the article"
    shares = character_contributions(model, text).sum(axis=0)
    logit = model.decision_function([text])[0] - model.bias
    # n-grams made only of boundary spaces cover no character; their share is the (small) remainder
    assert shares[0] == pytest.approx(logit[0], abs=0.35)
    assert shares[0] > 0


def test_clean_text_spans_are_weak_and_unknown_labels_give_none(model) -> None:
    clean = explain_spans(model, "thanks for sharing the article", ["toxicity"])
    toxic = explain_spans(model, "thanks for sharing the article idiot", ["toxicity"])
    assert toxic[0].weight > 3 * max((s.weight for s in clean), default=0.0)
    assert explain_spans(model, "you idiot", ["not_a_label"]) == []
    assert explain_spans(model, "", ["toxicity"]) == []
