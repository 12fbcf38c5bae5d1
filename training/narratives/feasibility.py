"""Feasibility baseline for the narrative labels: scikit-learn TF-IDF + logistic regression on the loaders' output.

Not the production trainer. It answers one question before the labels are wired into the real pipeline: with the
sources and label rules of ``training/narratives/sources.toml``, plus the comment-style sources (``COMMENT_SOURCES``)
labelled by the labeling functions (every LF positive and every topic-matched text kept, ``--toxicity-rows`` other
negatives sampled, reported copies of the LF positives added), how well does a bag-of-n-grams model do on the
hand-written development set, on its pattern-free subset and on the minimal pairs? Run::

    .venv/bin/python -m training.narratives.feasibility [--data-root ../shared/data] [--toxicity-rows 20000]

It prints a JSON report (the dict :func:`training.narratives.evaluate.evaluate` returns, plus training counts, a
held-out validation ROC-AUC per label and the review thresholds chosen on the development set).
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from training.config import SourceConfig
from training.datasets import get_loader
from training.datasets.cleaning import clean_texts, text_keys
from training.datasets.rules import apply_rules
from training.narratives import NARRATIVE_LABELS
from training.narratives.augment import add_reported_copies
from training.narratives.evaluate import choose_thresholds, evaluate, load_dev_set
from training.narratives.labeling_functions import lf_columns

FRAGMENT = Path(__file__).resolve().parent / "sources.toml"
# Comment-style sources, declared as in training/configs/default.toml (repeated here so this script does not
# depend on the state of that file).
COMMENT_SOURCES: tuple[dict[str, Any], ...] = (
    {
        "name": "davidson-hate-offensive",
        "loader": "davidson",
        "text_field": "tweet",
        "files": ["davidson-hate-offensive/labeled_data.csv.gz"],
    },
    {"name": "olid", "loader": "olid", "text_field": "tweet", "files": ["olid/olid-training-v1.0.tsv.gz"]},
    {
        "name": "hatexplain",
        "loader": "hatexplain",
        "text_field": "text",
        "files": ["hatexplain/092-HateXplain_mbib_majority.csv.gz", "hatexplain/post_id_divisions.json.gz"],
        "options": {"splits": ["train", "val"], "placeholder_words": ["user", "number"]},
    },
    {
        "name": "hateval2019-tweeteval",
        "loader": "hateval",
        "files": [
            "hateval2019-tweeteval/train_text.txt.gz",
            "hateval2019-tweeteval/train_labels.txt.gz",
            "hateval2019-tweeteval/val_text.txt.gz",
            "hateval2019-tweeteval/val_labels.txt.gz",
        ],
    },
    {
        "name": "toxic-spans",
        "loader": "toxic_spans",
        "text_field": "comment_text",
        "files": ["toxic-spans/comments.csv.gz", "toxic-spans/annotations.csv.gz", "toxic-spans/spans.csv.gz"],
    },
    {
        "name": "gab-hate-corpus",
        "loader": "gab_hate_corpus",
        "text_field": "Text",
        "files": ["gab-hate-corpus/ghc_majority25k_dev.jsonl.gz"],
    },
    {
        "name": "stormfront-white-supremacy",
        "loader": "stormfront",
        "text_field": "text",
        "files": ["stormfront-white-supremacy/stormfront_sentences.csv.gz"],
    },
    {
        "name": "abuseanalyzer-gab",
        "loader": "abuseanalyzer",
        "text_field": "Post Text",
        "files": ["abuseanalyzer-gab/AbuseAnalyzer_Dataset.tsv.gz"],
    },
    {
        "name": "mlma-hate-speech-en",
        "loader": "mlma",
        "text_field": "tweet",
        "files": ["mlma-hate-speech-en/en_dataset_with_stop_words.csv.gz"],
    },
)
TOXICITY_RULES = {label: {"positive": f"lf_{label} == 1", "negative": f"lf_{label} != 1"} for label in NARRATIVE_LABELS}


def load_corpus(
    data_root: Path, toxicity_rows: int, seed: int, kinds: list[str] | None, frames: int | None = None
) -> pd.DataFrame:
    """Texts from the narrative sources and sampled toxicity sources with 1/0/NaN narrative label columns."""
    fragment = tomllib.loads(FRAGMENT.read_text(encoding="utf-8"))
    configs = [SourceConfig.model_validate(raw) for raw in fragment["sources"]]
    if kinds is not None:
        configs[0].options["kinds"] = kinds
    if frames is not None:
        configs[0].options["reporting_frames"] = frames
    copies = int(configs[0].option("reporting_frames", 3))
    comment_sources = [SourceConfig.model_validate({**raw, "labels": TOXICITY_RULES}) for raw in COMMENT_SOURCES]
    configs += comment_sources
    parts = []
    for config in configs:
        frame = get_loader(config.loader)(config, data_root)
        if "lf_atrocity_denial" not in frame.columns:
            lf = lf_columns(clean_texts(frame["text"].tolist()))
            frame = frame.join(lf.set_index(frame.index))
        labels = apply_rules(frame, config, list(NARRATIVE_LABELS))
        part = pd.concat([frame[["text"]], labels], axis=1).assign(source=config.name)
        part["kind"] = frame["kind"] if "kind" in frame.columns else config.name
        part["topical"] = frame["atrocity_context"] | frame["denial_vocabulary"] | frame["plot_vocabulary"]
        parts.append(part)
    corpus = pd.concat(parts, ignore_index=True)
    corpus["text"] = clean_texts(corpus["text"].tolist())
    corpus = corpus[corpus["text"].str.len() > 0]
    corpus = corpus.loc[~pd.Series(text_keys(corpus["text"]), index=corpus.index).duplicated()]
    corpus = corpus[corpus[list(NARRATIVE_LABELS)].notna().any(axis=1)]
    # Comment-style sources: keep every LF positive and every topic-matched negative (a mass-casualty event or
    # narrative vocabulary is mentioned), sample the other negatives.
    toxic = corpus["source"].isin([source.name for source in comment_sources])
    positive = (corpus[list(NARRATIVE_LABELS)] == 1).any(axis=1)
    topical = corpus["topical"]
    pool = corpus[toxic & ~positive & ~topical]
    keep = pool.sample(n=min(toxicity_rows, len(pool)), random_state=seed).index
    keep_rows = ~toxic | positive | topical | corpus.index.isin(keep)
    corpus = corpus.loc[keep_rows].drop(columns="topical").reset_index(drop=True)
    if copies > 0:
        # EUvsDisinfo has its own claim_reported rows; add reported copies of the other sources' positives.
        euvsdisinfo = corpus["source"] == "euvsdisinfo"
        augmented = add_reported_copies(corpus[~euvsdisinfo], list(NARRATIVE_LABELS), copies_per_row=copies)
        augmented.loc[augmented["augmented"], "kind"] = "reported_copy"
        corpus = pd.concat([corpus[euvsdisinfo], augmented.drop(columns="augmented")], ignore_index=True)
    return corpus


def fit_models(corpus: pd.DataFrame, seed: int, val_fraction: float) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """TF-IDF (word 1-2 + char 2-5) and one logistic regression per label; held-out validation ROC-AUC."""
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=300_000, sublinear_tf=True)
    rng = np.random.default_rng(seed)
    is_val = rng.random(len(corpus)) < val_fraction
    train_texts = corpus.loc[~is_val, "text"].tolist()
    word.fit(train_texts)
    char.fit(train_texts)

    def featurize(texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([word.transform(texts), char.transform(texts)], format="csr")

    features = featurize(corpus["text"].tolist())
    models, validation = {}, {}
    for label in NARRATIVE_LABELS:
        known = corpus[label].notna().to_numpy()
        y = corpus[label].to_numpy()
        train = known & ~is_val
        model = LogisticRegression(C=4.0, solver="liblinear", class_weight="balanced", max_iter=500)
        model.fit(features[train], y[train].astype(int))
        models[label] = model
        val = known & is_val
        validation[label] = {
            "train_rows": int(train.sum()),
            "train_positives": int(y[train].sum()),
            "val_rows": int(val.sum()),
            "val_positives": int(y[val].sum()),
            "val_roc_auc": round(float(roc_auc_score(y[val].astype(int), model.predict_proba(features[val])[:, 1])), 4),
        }
    return featurize, models, validation


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--toxicity-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--kinds", nargs="*", default=None, help="EUvsDisinfo row kinds to keep (default: all)")
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help="reported copies per narrative positive (default: the euvsdisinfo reporting_frames option; 0 = off)",
    )
    parser.add_argument("--dump-scores", type=Path, default=None, help="write per-item dev-set scores (CSV)")
    args = parser.parse_args(argv)

    corpus = load_corpus(args.data_root, args.toxicity_rows, args.seed, args.kinds, frames=args.frames)
    featurize, models, validation = fit_models(corpus, args.seed, args.val_fraction)

    def score(texts: Sequence[str]) -> dict[str, np.ndarray]:
        features = featurize(list(texts))
        return {label: models[label].predict_proba(features)[:, 1] for label in NARRATIVE_LABELS}

    thresholds = choose_thresholds(score)
    if args.dump_scores is not None:
        dev = load_dev_set()
        dev_scores = score(dev["text"].tolist())
        dev.assign(**{f"score_{label}": dev_scores[label] for label in NARRATIVE_LABELS}).to_csv(
            args.dump_scores, index=False
        )
    report = {
        "corpus": {
            label: corpus.groupby("source")[label].agg(positives="sum", known="count").astype(int).to_dict("index")
            for label in NARRATIVE_LABELS
        },
        "validation": validation,
        "review_thresholds_on_dev": thresholds,
        "dev": evaluate(score, thresholds=thresholds, pair_labels=NARRATIVE_LABELS),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
