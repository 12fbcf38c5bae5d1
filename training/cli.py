"""Trainer verbs of the ``threadguard`` command: ``train`` and ``evaluate``. Heavy imports stay inside handlers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def _progress(start: float):
    def say(message: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return say


def _train(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.train import train_bundle

    say = _progress(time.perf_counter())
    config = load_config(args.config, data_root=args.data_root, check_files=True)
    bundle = train_bundle(config, args.out, data_root=args.data_root, version=args.version,
                          loso=False if args.no_loso else None, progress=say, overwrite=args.overwrite)
    validation = bundle.manifest.metrics["validation"]
    summary = {label: m["roc_auc"] for label, m in validation["pooled"].items()}
    print(json.dumps({"bundle": str(bundle.path), "version": bundle.version, "val_roc_auc": summary,
                      "loso_macro": validation.get("leave_one_source_out", {}).get("macro")}, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from threadguard.bundle import load_bundle
    from training.config import load_config
    from training.evaluate import evaluate_bundle, format_metrics

    say = _progress(time.perf_counter())
    bundle = load_bundle(args.model)
    config = load_config(args.config, data_root=args.data, check_files=True)
    result = evaluate_bundle(bundle, config, data_root=args.data, progress=say)
    print(format_metrics(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


def register(subparsers: Any) -> None:
    train = subparsers.add_parser("train", help="train a model bundle from a TOML training config")
    train.add_argument("--config", default=None, help="training config (default: training/configs/default.toml)")
    train.add_argument("--out", required=True, help="bundle directory to write, e.g. models/threadguard-ngram/1.1.0")
    train.add_argument("--data-root", default=None, help="dataset root (default: config [data].root)")
    train.add_argument("--version", default=None, help="bundle version (default: config [model].version)")
    train.add_argument("--no-loso", action="store_true", help="skip the leave-one-source-out evaluation")
    train.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    train.set_defaults(handler=_train)

    evaluate = subparsers.add_parser("evaluate", help="score a bundle on a config's validation split")
    evaluate.add_argument("--model", default=None, help="bundle directory (default: the shipped default model)")
    evaluate.add_argument("--config", default=None, help="training config (default: training/configs/default.toml)")
    evaluate.add_argument("--data", default=None, help="dataset root (default: config [data].root)")
    evaluate.add_argument("--json", default=None, help="also write the metrics as JSON to this file")
    evaluate.set_defaults(handler=_evaluate)
