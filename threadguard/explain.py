"""Why a comment scored high: the words whose n-grams pushed each label's score up.

The model is linear in TF-IDF features, so a label's logit is a sum of per-n-gram contributions
``x_j * w_j``. Each contribution is shared among the n-gram's occurrences and spread evenly over the
characters each occurrence covers; a word's weight is the sum over its characters. Words with positive weight
are returned as spans with code-point offsets into the caller's original text (boundary spaces, dropped
characters and normalisation never shift offsets, because every stream element remembers its source).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from threadguard.featurizer import build_stream, extract_ngrams
from threadguard.linear_model import LinearNgramModel, lookup, tfidf_from_counts

_WORD = re.compile(r"\S+")
MIN_SHARE = 0.05  # ignore words contributing less than 5% of the top word's weight


@dataclass(frozen=True, slots=True)
class Span:
    label: str
    begin: int  # code-point offset, inclusive
    end: int  # code-point offset, exclusive
    weight: float  # contribution to the label's logit (calibrated), summed over the span's characters


def character_contributions(model: LinearNgramModel, text: str) -> np.ndarray:
    """[len(text), L] array: each character's share of each label's logit (excluding the bias)."""
    length = len(text)
    if length == 0:
        return np.zeros((0, len(model.labels)))
    occurrences = extract_ngrams(build_stream([text]), model.params)
    ids = lookup(model.vocabulary, occurrences.keys)
    hit = ids >= 0
    families, ids = occurrences.families[hit], ids[hit]
    begins, ends = occurrences.begins[hit], occurrences.ends[hit]
    # the same TF-IDF values the model scores with: one per (family, id)
    pair = families * model.vocabulary.size + ids
    unique, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    feats = tfidf_from_counts(np.zeros(unique.size, np.int64), unique // model.vocabulary.size,
                              unique % model.vocabulary.size, counts, 1, model.idf, model.params)
    # each occurrence carries its feature's contribution divided by the feature's count ...
    per_occurrence = (feats.values / counts)[inverse][:, None] * model.weights[ids].astype(np.float64)
    # ... spread evenly over the characters it covers (occurrences of only boundary spaces cover none)
    covered = (begins >= 0) & (ends > begins)
    per_char = per_occurrence[covered] / (ends[covered] - begins[covered])[:, None]
    deltas = np.zeros((length + 1, len(model.labels)))
    np.add.at(deltas, begins[covered], per_char)
    np.add.at(deltas, ends[covered], -per_char)
    return np.cumsum(deltas, axis=0)[:length]


def explain_spans(model: LinearNgramModel, text: str, labels: Sequence[str], *, top_k: int = 5) -> list[Span]:
    """Up to ``top_k`` words per requested label that raised its score, strongest first."""
    wanted = [label for label in labels if label in model.labels]
    if not wanted or not text:
        return []
    per_char = character_contributions(model, text)
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words:
        return []
    starts = np.array([b for b, _ in words])
    ends = np.array([e for _, e in words])
    cumulative = np.vstack([np.zeros((1, per_char.shape[1])), np.cumsum(per_char, axis=0)])
    word_weights = cumulative[ends] - cumulative[starts]
    spans: list[Span] = []
    for label in wanted:
        column = word_weights[:, model.labels.index(label)]
        order = np.argsort(-column, kind="stable")
        top = column[order[0]] if order.size else 0.0
        for index in order[:top_k]:
            weight = float(column[index])
            if weight <= 0 or weight < MIN_SHARE * top:
                break
            spans.append(Span(label, int(starts[index]), int(ends[index]), round(weight, 4)))
    return spans
