"""Compare featurizer/classifier settings on the validation split, all in one run (prints one line each).

    .venv/bin/python scripts/sweep_classifier.py

Validation only: official test splits are withheld. The metric is the mean ROC-AUC over (source, label) pairs,
which, unlike pooled AUC, cannot be raised by learning each source's base rate.
"""

from __future__ import annotations

import time

from threadguard.featurizer import FeaturizerParams
from training.config import load_config
from training.corpus import build_corpus
from training.metrics import label_metrics, macro_roc_auc
from training.ngram_counts import NgramCounts
from training.pipeline import PipelineSettings, fit_pipeline

_WORDS_HALF = {"family_weights": (1.0, 0.5)}
VARIANTS: dict[str, tuple[FeaturizerParams, dict[str, float]]] = {
    "chars 3,4,5": (FeaturizerParams(char_ngram_lengths=(3, 4, 5), **_WORDS_HALF), {"alpha": 2e-5}),
    "chars 3,5": (FeaturizerParams(char_ngram_lengths=(3, 5), **_WORDS_HALF), {"alpha": 2e-5}),
    "chars 4": (FeaturizerParams(char_ngram_lengths=(4,), **_WORDS_HALF), {"alpha": 2e-5}),
    "chars 4,5": (FeaturizerParams(char_ngram_lengths=(4, 5), **_WORDS_HALF), {"alpha": 2e-5}),
    "chars 3": (FeaturizerParams(char_ngram_lengths=(3,), **_WORDS_HALF), {"alpha": 2e-5}),
}


def main() -> None:
    corpus = build_corpus(load_config(None))
    frame = corpus.frame.reset_index(drop=True)
    train, val = frame[frame["split"] == "train"], frame[frame["split"] == "val"]
    cache: dict[FeaturizerParams, NgramCounts] = {}
    for name, (featurizer, classifier) in VARIANTS.items():
        started = time.perf_counter()
        if featurizer not in cache:
            cache.clear()
            cache[featurizer] = NgramCounts.from_texts(frame["text"].tolist(), featurizer)
        settings = PipelineSettings(featurizer=featurizer, **classifier)  # type: ignore[arg-type]
        fitted = fit_pipeline(train, val, corpus.labels, settings, counts=cache[featurizer])
        matrix = fitted.vectorizer.transform_counts(cache[featurizer], val.index.to_numpy())
        metrics = label_metrics(val, fitted.score_matrix(matrix), corpus.labels)
        pooled = " ".join(f"{k}={v['roc_auc']}" for k, v in metrics["pooled"].items())
        print(f"{name:26s} per-source macro {macro_roc_auc(metrics['per_source'])}  pooled {pooled}  "
              f"{time.perf_counter() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
