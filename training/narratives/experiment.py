"""Measure the narrative labels of a training config without writing a bundle: dev set and minimal pairs.

Builds the config's corpus, fits **only the narrative labels** with the real pipeline (same featurizer,
vocabulary, per-label classifier settings and calibration as ``threadguard train``; a label's classifier does
not depend on the other labels, so its weights are the ones a full training run would ship), chooses review
thresholds exactly as the trainer does (:func:`training.train.narrative_evaluation`: recall rule on the
development set, capped at 1% of ordinary validation comments) and prints, per data seed, development-set
ROC-AUC / PR-AUC / precision / recall (all items and the pattern-free subset) and the minimal-pair win rate of
each narrative label. Settings are chosen on the development set; the pairs are the acceptance check. ::

    .venv/bin/python -m training.narratives.experiment [--config P] [--seed 13 --seed 7] \\
        [--set classifier.per_label.atrocity_denial.solver='"sgd"'] [--unset augmentation] [--json out.json]

``--set KEY=VALUE`` overrides a dotted key of the config (VALUE is a TOML value; a bare word is a string),
``--unset KEY`` removes one; neither touches the file. About 1.5 minutes per seed on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.config import DEFAULT_CONFIG_PATH, TrainingConfig, parse_config
from training.corpus import build_corpus
from training.narratives import NARRATIVE_LABELS
from training.ngram_counts import NgramCounts
from training.pipeline import PipelineSettings, fit_pipeline
from training.thresholds import ThresholdRule
from training.train import narrative_evaluation, narrative_sources


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _table(raw: dict[str, Any], parts: Sequence[str]) -> dict[str, Any]:
    table: Any = raw
    for part in parts:
        if isinstance(table, list):  # an array of tables is indexed by name: sources.euvsdisinfo.options
            matches = [item for item in table if item.get("name") == part]
            if len(matches) != 1:
                raise KeyError(f"no single entry named {part!r}")
            table = matches[0]
        else:
            table = table.setdefault(part, {})
    return table


def apply_overrides(raw: dict[str, Any], sets: Sequence[str] = (), unsets: Sequence[str] = ()) -> dict[str, Any]:
    """``raw`` with ``a.b.c=VALUE`` assignments and ``a.b.c`` removals applied (in place, and returned).
    In an array of tables (``sources``) the next key part is an entry's ``name``."""
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set needs KEY=VALUE, got {item!r}")
        *parents, leaf = key.strip().split(".")
        _table(raw, parents)[leaf] = _toml_value(value.strip())
    for key in unsets:
        *parents, leaf = key.strip().split(".")
        _table(raw, parents).pop(leaf, None)
    return raw


def measure(config: TrainingConfig, data_root: str | None = None, progress: Any = None) -> dict[str, Any]:
    """Fit the config's narrative labels on its training split and evaluate them (see the module doc)."""
    say = progress or (lambda _: None)
    started = time.perf_counter()
    labels = [label for label in config.labels if label in NARRATIVE_LABELS]
    corpus = build_corpus(config, data_root=data_root)
    frame = corpus.frame.reset_index(drop=True)
    train, val = frame[frame["split"] == "train"], frame[frame["split"] == "val"]
    settings = PipelineSettings.from_config(config.featurizer, config.classifier)
    say(
        f"seed {config.data.seed}: corpus {len(train):,} train / {len(val):,} val rows, "
        f"reported copies {corpus.augmented}; counting n-grams"
    )
    counts = NgramCounts.from_texts(frame["text"].tolist(), settings.featurizer)
    fitted = fit_pipeline(train, val, labels, settings, counts=counts, progress=say)

    def score_fn(texts: Sequence[str]) -> dict[str, np.ndarray]:
        scores = fitted.model.predict_proba(list(texts))
        return {label: scores[:, j] for j, label in enumerate(labels)}

    raw = config.thresholds
    rule = ThresholdRule.from_config(raw)
    thresholds: dict[str, Any] = {"rule": rule.__dict__, "per_label": {}}
    ordinary = val[~val["source"].isin(narrative_sources(config))]["text"].tolist()
    result = narrative_evaluation(
        score_fn, labels, thresholds, ordinary, float(raw.get("experimental_max_review_rate", 0.01))
    )
    from training.narratives.evaluate import load_minimal_pairs, minimal_pair_win_rate

    pairs = load_minimal_pairs()
    for label in labels:
        if label not in result["minimal_pairs"]:
            result["minimal_pairs"][label] = minimal_pair_win_rate(score_fn, pairs, label)
    result["seed"] = config.data.seed
    result["featurizer"] = settings.featurizer.to_manifest()
    result["settings"] = settings.describe()
    result["train_rows"] = fitted.label_rows
    result["reported_copies"] = corpus.augmented
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def summary_line(result: dict[str, Any]) -> str:
    lengths = result["featurizer"].get("char_ngram_lengths", "?")
    parts = [f"seed {result['seed']:>3} chars {lengths}"]
    for label, entry in result["labels"].items():
        a, pf = entry["all"], entry["pattern_free"]
        pair = result["minimal_pairs"][label]
        parts.append(
            f"{label}: dev AUC {a['roc_auc']:.3f} (pattern-free {pf['roc_auc']:.3f}) "
            f"P {a['precision']} R {a['recall']} pairs {pair['wins']}/{pair['pairs']}"
        )
    return " | ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.narratives.experiment", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        default=None,
        help="data seed (repeatable; default: the config's [data].seed)",
    )
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--unset", dest="unsets", action="append", default=[], metavar="KEY")
    parser.add_argument("--json", type=Path, default=None, help="write the full reports here")
    args = parser.parse_args(argv)
    raw = apply_overrides(tomllib.loads(args.config.read_text(encoding="utf-8")), args.sets, args.unsets)
    seeds = args.seed or [raw.get("data", {}).get("seed", 13)]
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f}s] {message}", file=sys.stderr, flush=True)

    results = []
    for seed in seeds:
        raw.setdefault("data", {})["seed"] = seed
        config = parse_config(raw, origin=str(args.config))
        result = measure(config, data_root=args.data_root, progress=say)
        results.append(result)
        print(summary_line(result), flush=True)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"overrides": {"set": args.sets, "unset": args.unsets}, "results": results}, indent=2),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
