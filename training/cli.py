"""Trainer verbs of the ``threadguard`` command: ``train``, ``evaluate``, ``promote``, ``rollback`` and ``models``.

Heavy imports stay inside handlers."""

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
    if args.candidate is not None:
        if args.model is not None:
            print("threadguard evaluate: use either --model or --candidate, not both", file=sys.stderr)
            return 2
        return _evaluate_candidate(args)
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


def _resolve_baseline(spec: str, candidate: Any, models_root: str | None) -> Any:
    from threadguard.bundle import load_bundle
    from training.registry import ModelRegistry

    if spec == "none":
        return None
    if spec == "current":
        registry = ModelRegistry.for_model(candidate.name, models_root)
        baseline = registry.current_bundle()
        if baseline is None:
            raise ValueError(f"{registry.pointer_path} does not exist; pass --baseline DIR or --baseline none")
        return baseline
    return load_bundle(spec)


def _evaluate_candidate(args: argparse.Namespace) -> int:
    from threadguard.bundle import load_bundle
    from training.bias import load_templates
    from training.config import load_config
    from training.promote import load_gate_config, run_gate
    from training.report import build_report, evaluate_model, load_evaluation_data, measure_latencies, write_report

    say = _progress(time.perf_counter())
    candidate = load_bundle(args.candidate)
    try:
        baseline = _resolve_baseline(args.baseline, candidate, args.models_root)
    except ValueError as exc:
        print(f"threadguard evaluate: {exc}", file=sys.stderr)
        return 2
    gate_config = load_gate_config(args.gate)
    config = load_config(args.config, data_root=args.data, check_files=True)
    data = load_evaluation_data(config, data_root=args.data, progress=say)
    templates = load_templates(gate_config.templates_path)
    new = evaluate_model(candidate, data, templates=templates, latency=False, progress=say)
    old = evaluate_model(baseline, data, templates=templates, latency=False, progress=say) \
        if baseline is not None else None
    say("measuring latency")
    measure_latencies([new] if old is None else [old, new], data)
    gate = run_gate(new, old, gate_config) if old is not None else None
    if args.report_dir:
        from training.report.plots import PlotsUnavailable

        say(f"writing the report to {args.report_dir}")
        try:
            report = write_report(args.report_dir, data, new, old, gate=gate, plots=not args.no_plots)
        except PlotsUnavailable as exc:
            print(f"threadguard evaluate: {exc}", file=sys.stderr)
            return 2
    else:
        report = build_report(data, new, old, gate=gate)
    print(_format_comparison(report))
    if gate is not None:
        print(gate.format())
    if args.report_dir:
        print(f"report: {args.report_dir}/report.md, report.html, report.json")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
    return 0


def _format_comparison(report: dict[str, Any]) -> str:
    models = report["models"]
    has_baseline = "baseline" in models
    title = f"{models['candidate']['name']} {models['candidate']['version']}"
    if has_baseline:
        title += f" against {models['baseline']['version']}"
    lines = [f"{title} on {report['data']['rows']:,} {report['data']['split']} rows",
             f"{'label':<18}{'n':>8}{'pos':>7}{'baseline':>10}{'candidate':>11}{'delta':>9}"]
    for label, c in report["comparison"].items():
        def f(v: Any) -> str:
            return "–" if v is None else f"{v:.4f}"
        delta = c.get("roc_auc_delta")
        lines.append(f"{label:<18}{c['n']:>8}{c['positives']:>7}{f(c.get('baseline_roc_auc')):>10}"
                     f"{f(c['candidate_roc_auc']):>11}{'–' if delta is None else f'{delta:+.4f}':>9}")
    return "\n".join(lines)


def _gate_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"max_auc_drop": args.max_auc_drop, "max_mean_auc_drop": args.max_bias_auc_drop,
            "max_mean_fpr_increase": args.max_fpr_increase}


def _service(args: argparse.Namespace) -> tuple[str | None, str | None]:
    import os

    url = args.service_url or os.environ.get("THREADGUARD_SERVICE_URL") or None
    key = args.admin_key or os.environ.get("THREADGUARD_ADMIN_KEY") or None
    return url, key


def _finish(outcome: Any) -> int:
    entry = outcome.entry
    if outcome.gate is not None:
        print(outcome.gate.format())
    print(f"{outcome.action}: {outcome.model} {outcome.previous or '(nothing)'} -> {outcome.version}"
          + (" (forced)" if entry.get("forced") else ""))
    print(f"history: {outcome.registry.history_path}")
    if outcome.service_error:
        print(f"WARNING: {outcome.service_error}\nThe registry now points at {outcome.version}; reload the "
              f"service (POST /v1/admin/reload or SIGHUP) to serve it.", file=sys.stderr)
        return 3
    return 0


def _promote(args: argparse.Namespace) -> int:
    from threadguard.bundle import BundleError
    from training.promote import GateRefused, PromotionError, ServiceError, load_gate_config, promote
    from training.registry import RegistryError

    say = _progress(time.perf_counter())
    url, key = _service(args)
    try:
        gate_config = load_gate_config(args.gate, **_gate_overrides(args))
        outcome = promote(args.bundle, models_root=args.models_root, config_path=args.config,
                          data_root=args.data_root, gate_config=gate_config, force=args.force, reason=args.reason,
                          user=args.user, service_url=url, admin_key=key, report_dir=args.report_dir, progress=say)
    except GateRefused as exc:
        print(exc.result.format())
        print("promotion refused: the candidate fails the gate (override with --force --reason \"...\")",
              file=sys.stderr)
        return 1
    except (PromotionError, RegistryError, BundleError, ServiceError) as exc:
        print(f"threadguard promote: {exc}", file=sys.stderr)
        return 1
    return _finish(outcome)


def _rollback(args: argparse.Namespace) -> int:
    from training.promote import PromotionError, ServiceError, rollback

    say = _progress(time.perf_counter())
    url, key = _service(args)
    try:
        outcome = rollback(args.model, models_root=args.models_root, to=args.to, reason=args.reason,
                           user=args.user, service_url=url, admin_key=key, progress=say)
    except (PromotionError, ServiceError) as exc:
        print(f"threadguard rollback: {exc}", file=sys.stderr)
        return 1
    return _finish(outcome)


def _models(args: argparse.Namespace) -> int:
    from training.registry import ModelRegistry, gate_cell, list_models

    registries = [ModelRegistry.for_model(args.name, args.models_root)] if args.name else \
        list_models(args.models_root)
    if args.json:
        print(json.dumps([{"name": r.name, "path": str(r.path), "current": r.current(),
                           "versions": [v.__dict__ for v in r.describe()], "history": r.history()}
                          for r in registries], indent=2))
        return 0
    if not registries:
        print("no models")
        return 1
    for registry in registries:
        print(f"{registry.name}  ({registry.path})  current: {registry.current() or '-'}")
        for info in registry.describe():
            aucs = " ".join(f"{k}={v:.3f}" for k, v in info.val_roc_auc.items() if v is not None)
            print(f"  {'*' if info.current else ' '} {info.version:<16} {info.created_at:<22} {aucs}")
        history = registry.history()[-args.history:] if args.history else []
        if history:
            print("  history (newest last):")
        for entry in history:
            forced = " (forced)" if entry.get("forced") else ""
            reason = f"  reason: {entry['reason']}" if entry.get("reason") else ""
            print(f"    {entry.get('time')} {entry.get('action')}{forced} {entry.get('from') or '-'} -> "
                  f"{entry.get('to')} by {entry.get('user')}; gate: {gate_cell(entry.get('gate'))}{reason}")
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

    evaluate = subparsers.add_parser(
        "evaluate", help="score a bundle on a config's validation split, or compare a candidate with a baseline",
        description="--model DIR: metrics of one bundle. --candidate DIR [--baseline current|DIR|none] "
                    "[--report-dir DIR]: the candidate against the baseline on the same rows, with the bias check "
                    "and the promotion gate's verdict; --report-dir writes report.md, report.html, report.json and "
                    "PNG figures.")
    evaluate.add_argument("--model", default=None, help="bundle directory (default: the shipped default model)")
    evaluate.add_argument("--candidate", default=None, help="candidate bundle directory to compare")
    evaluate.add_argument("--baseline", default="current",
                          help="'current' (the candidate's registry pointer, default), 'none', or a bundle directory")
    evaluate.add_argument("--models-root", default=None, help="registry root for --baseline current (default models/)")
    evaluate.add_argument("--report-dir", default=None, help="write the report (Markdown, HTML, JSON, PNG) here")
    evaluate.add_argument("--no-plots", action="store_true", help="report without figures")
    evaluate.add_argument("--gate", default=None, help="gate config (default: training/configs/gate.toml)")
    evaluate.add_argument("--config", default=None, help="training config (default: training/configs/default.toml)")
    evaluate.add_argument("--data", "--data-root", dest="data", default=None,
                          help="dataset root (default: config [data].root)")
    evaluate.add_argument("--json", default=None, help="also write the metrics (or the report) as JSON to this file")
    evaluate.set_defaults(handler=_evaluate)

    def service_options(parser: Any) -> None:
        parser.add_argument("--models-root", default=None, help="registry root (default: models/)")
        parser.add_argument("--reason", default=None, help="why; recorded in the history (required with --force)")
        parser.add_argument("--user", default=None, help="who; recorded in the history (default: login name)")
        parser.add_argument("--service-url", default=None,
                            help="running service to reload, e.g. http://127.0.0.1:8000 ($THREADGUARD_SERVICE_URL)")
        parser.add_argument("--admin-key", default=None, help="admin key for the reload ($THREADGUARD_ADMIN_KEY)")

    promote = subparsers.add_parser(
        "promote", help="gate a candidate bundle against the current version, make it current, reload the service",
        description="Copies the bundle to models/<name>/<version>/, runs the gate (training/configs/gate.toml) "
                    "against the current version on the config's validation split and the bias templates, "
                    "moves models/<name>/current, appends models/<name>/history.jsonl and reloads the service.")
    promote.add_argument("bundle", help="candidate bundle directory")
    promote.add_argument("--config", default=None, help="training config whose validation split the gate uses")
    promote.add_argument("--data-root", default=None, help="dataset root (default: config [data].root)")
    promote.add_argument("--gate", default=None, help="gate config (default: training/configs/gate.toml)")
    promote.add_argument("--max-auc-drop", type=float, default=None, help="override [gate] max_auc_drop")
    promote.add_argument("--max-bias-auc-drop", type=float, default=None,
                         help="override [gate.bias] max_mean_auc_drop")
    promote.add_argument("--max-fpr-increase", type=float, default=None,
                         help="override [gate.bias] max_mean_fpr_increase")
    promote.add_argument("--force", action="store_true", help="promote even if the gate fails (needs --reason)")
    promote.add_argument("--report-dir", default=None, help="also write the evaluation report here")
    service_options(promote)
    promote.set_defaults(handler=_promote)

    rollback = subparsers.add_parser(
        "rollback", help="point the model back at the previously promoted version and reload the service")
    rollback.add_argument("--model", default=None, help="model name (default: threadguard-ngram)")
    rollback.add_argument("--to", default=None, help="a specific previously served version")
    service_options(rollback)
    rollback.set_defaults(handler=_rollback_default)

    models = subparsers.add_parser("models", aliases=["registry"],
                                   help="list registered models, versions, the current pointer and the history")
    models.add_argument("name", nargs="?", default=None, help="one model (default: all under --models-root)")
    models.add_argument("--models-root", default=None, help="registry root (default: models/)")
    models.add_argument("--history", type=int, default=10, help="history entries to show (default 10)")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(handler=_models)


def _rollback_default(args: argparse.Namespace) -> int:
    if args.model is None:
        from threadguard.bundle import DEFAULT_MODEL_NAME

        args.model = DEFAULT_MODEL_NAME
    return _rollback(args)
