"""ONNX scoring benchmark: throughput of our model vs a naive skl2onnx export, and vs vocabulary size.

Prints, side by side from ONE run (candidates interleaved round-robin, medians of repeated timings):

- comments/s for single-comment calls (one text per ``InferenceSession.run``) and batch-of-100 calls;
- our model (the shipped bundle's ``model.onnx``); naive scikit-learn TfidfVectorizer + LogisticRegression
  pipelines exported with skl2onnx at the same vocabulary size: the equivalent one (raw TF like ours, every label
  ours scores) and two single-label ones (raw and sublinear TF), which flatter the naive export; and our graph
  at ~50k and ~1M n-grams (random weights);
- the three acceptance ratios against their targets, plus the machine and library versions.

Every session is single-threaded (intra_op_num_threads=1, inter_op_num_threads=1, CPU provider). Comments are
~300-character texts built from the training corpus's *validation* split (the official test splits are not
in the data folder at all), so they are unseen by every vocabulary, like production traffic.

Usage::

    python benchmarks/bench_onnx.py                 # full run against the shipped default bundle
    python benchmarks/bench_onnx.py --quick         # short run
    python benchmarks/bench_onnx.py --model DIR --json out.json --profile

Without a shipped bundle (``models/threadguard-ngram`` absent) it runs bundle-free: "our model" is then our
graph over a vocabulary fitted here at the training config's ``max_features`` with random weights (scoring
cost does not depend on the weight values).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

BATCH_SIZE = 100
COMMENT_MIN, COMMENT_MAX, COMMENT_CUT = 280, 320, 300
SMALL_VOCAB, LARGE_VOCAB = 50_000, 1_000_000
TARGET_BATCH_PER_S = 10_000.0
TARGET_SPEEDUP = 20.0
TARGET_VOCAB_COST = 1.3
SEED = 20240613
NAIVE_C = 4.0  # same C as training/baseline.py
NAIVE_MULTILABEL_ROWS = 40_000  # rows that train the all-labels naive pipeline (scoring cost does not depend on them)
DIVERGENCE_TEXTS = 500
PROFILE_TEXTS = 1000  # batched profile: 10 batches of 100
PROFILE_SINGLE = 300  # single-comment profile: 300 runs
WARMUP_RUNS = 3


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- comments -----------------------------------------------------------------------------------------------
def make_comments(texts_by_source: dict[str, list[str]], n: int, seed: int) -> list[str]:
    """``n`` comments of COMMENT_MIN..COMMENT_MAX characters: texts of one source joined with spaces until long
    enough, then trimmed at the last space inside the window (or cut at COMMENT_CUT when there is none)."""
    rng = np.random.default_rng(seed)
    sources = sorted(s for s, texts in texts_by_source.items() if texts)
    sizes = np.array([len(texts_by_source[s]) for s in sources], dtype=np.float64)
    orders = {s: rng.permutation(len(texts_by_source[s])) for s in sources}
    cursors = dict.fromkeys(sources, 0)
    comments: list[str] = []
    while len(comments) < n:
        source = sources[int(rng.choice(len(sources), p=sizes / sizes.sum()))]
        texts, order = texts_by_source[source], orders[source]
        parts: list[str] = []
        length = -1
        while length < COMMENT_MIN:
            piece = texts[int(order[cursors[source] % len(order)])].strip()
            cursors[source] += 1
            if piece:
                parts.append(piece)
                length += len(piece) + 1
        text = " ".join(parts)
        if len(text) > COMMENT_MAX:
            cut = text.rfind(" ", COMMENT_MIN, COMMENT_MAX + 1)
            text = text[:cut] if cut >= COMMENT_MIN else text[:COMMENT_CUT]
        comments.append(text)
    return comments


# -- candidates ---------------------------------------------------------------------------------------------
@dataclass
class Candidate:
    key: str
    title: str
    onnx_bytes: bytes
    vocabulary: int
    labels: int
    column_input: bool  # skl2onnx wants string[N, 1]; ours string[N]
    output: str
    notes: list[str] = field(default_factory=list)
    session: ort.InferenceSession | None = None
    load_seconds: float = 0.0

    def feed(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        array = np.array(list(texts), dtype=object)
        if self.column_input:
            array = array.reshape(-1, 1)
        assert self.session is not None
        return {self.session.get_inputs()[0].name: array}

    def score(self, texts: Sequence[str]) -> np.ndarray:
        assert self.session is not None
        return self.session.run([self.output], self.feed(texts))[0]


def session_options(profile_prefix: str | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def open_session(candidate: Candidate) -> None:
    started = time.perf_counter()
    candidate.session = ort.InferenceSession(candidate.onnx_bytes, session_options(),
                                             providers=["CPUExecutionProvider"])
    candidate.load_seconds = time.perf_counter() - started


def random_model(params: Any, labels: Sequence[str], vocabulary: np.ndarray, idf: np.ndarray, seed: int) -> Any:
    from threadguard.linear_model import LinearNgramModel

    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.5, size=(vocabulary.size, len(labels))).astype(np.float32)
    bias = rng.normal(-2.0, 0.5, size=len(labels))
    return LinearNgramModel(params=params, labels=tuple(labels), vocabulary=vocabulary, idf=idf,
                            weights=weights, bias=bias)


def our_candidate(key: str, title: str, model: Any, notes: list[str]) -> Candidate:
    from training.export import export_bytes

    return Candidate(key=key, title=title, onnx_bytes=export_bytes(model), vocabulary=int(model.vocabulary.size),
                     labels=len(model.labels), column_input=False, output="scores", notes=notes)


def naive_candidate(train: Any, vocab_size: int, texts_for_divergence: Sequence[str], sublinear_tf: bool,
                    labels: Sequence[str] = ("toxicity",), seed: int = SEED) -> tuple[Candidate, dict]:
    """TfidfVectorizer(word 1-2 grams) + LogisticRegression, skl2onnx default converter.

    ``sublinear_tf=True`` is the pooled baseline of the model card (training/baseline.py); ``False`` is raw TF
    like ours, and exports without the dense ``Log`` node, so it is the faster comparison. One label (the
    default) is trained on the toxicity rows; several labels make the *equivalent* pipeline, one
    ``OneVsRestClassifier`` of logistic regressions scoring every label ours scores (a label a row's source does
    not annotate counts as negative: that is what naive pooling does), trained on a sample of the rows."""
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline

    single = len(labels) == 1
    if single:
        rows = train[train[labels[0]].notna()]
    else:
        rows = train.sample(n=min(len(train), NAIVE_MULTILABEL_ROWS), random_state=seed)
    texts = rows["text"].tolist()
    y = rows[labels[0]].to_numpy().astype(int) if single else rows[list(labels)].fillna(0).to_numpy().astype(int)
    min_df = 2
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=sublinear_tf, min_df=min_df,
                                 max_features=vocab_size)
    X = vectorizer.fit_transform(texts)
    if len(vectorizer.vocabulary_) < vocab_size:  # not enough word n-grams seen twice: take singletons too
        min_df = 1
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=sublinear_tf, min_df=min_df,
                                     max_features=vocab_size)
        X = vectorizer.fit_transform(texts)
    classifier: Any = LogisticRegression(C=NAIVE_C, solver="liblinear")
    if not single:
        classifier = OneVsRestClassifier(classifier)
    classifier.fit(X, y)
    pipeline = Pipeline([("tfidf", vectorizer), ("lr", classifier)])
    log(f"naive: {len(rows):,} rows, {len(labels)} label(s), vocabulary {len(vectorizer.vocabulary_):,} "
        f"(min_df={min_df})")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # zipmap=False: probabilities as a plain float tensor instead of a list of dicts (ZipMap would only
        # make the naive export slower); everything else is the default converter.
        model = convert_sklearn(pipeline, initial_types=[("text", StringTensorType([None, 1]))],
                                options={id(classifier): {"zipmap": False}})
    normalizers = [n for n in model.graph.node if n.op_type == "StringNormalizer"]
    default_locale = next((a.s.decode() for n in normalizers for a in n.attribute if a.name == "locale"),
                          "en_US.UTF-8 (attribute absent: onnxruntime's default)")
    quiet = session_options()
    quiet.log_severity_level = 4  # the expected failure below is reported in the notes, not as an ORT error
    try:
        ort.InferenceSession(model.SerializeToString(), quiet, providers=["CPUExecutionProvider"])
        default_result = "session created"
    except Exception as exc:  # onnxruntime raises its own Fail type
        message = str(exc)
        reason = "Failed to construct locale" if "Failed to construct locale" in message else message[:100]
        default_result = f"session creation fails ({reason}; this machine has only C/C.UTF-8/POSIX)"
    for node in normalizers:
        for attribute in list(node.attribute):
            if attribute.name == "locale":
                node.attribute.remove(attribute)
        node.attribute.append(onnx.helper.make_attribute("locale", "C.UTF-8"))
    tf = "sublinear tf" if sublinear_tf else "raw tf"
    what = (f"LogisticRegression(liblinear, C={NAIVE_C}) on the {len(rows):,} training rows with a {labels[0]} "
            "label" if single else f"OneVsRestClassifier(LogisticRegression(liblinear, C={NAIVE_C})) over "
            f"{len(labels)} labels on {len(rows):,} sampled training rows (unannotated labels as negatives)")
    candidate = Candidate(
        key=("naive" if sublinear_tf else "naive_raw") + ("" if single else "_all"),
        title=f"naive skl2onnx TF-IDF+LR ({tf}, " + (f"{labels[0]} only)" if single else f"{len(labels)} labels)"),
        onnx_bytes=model.SerializeToString(),
        vocabulary=len(vectorizer.vocabulary_), labels=len(labels), column_input=True, output="probabilities",
        notes=[f"word 1-2 grams (TfidfVectorizer analyzer='word', sublinear_tf={sublinear_tf}, min_df={min_df}, "
               f"max_features="
               f"{vocab_size:,}; word is the only analyzer skl2onnx fully supports), {what}",
               "single label: it scores 1 label, ours all labels, which flatters it" if single else
               "the equivalent pipeline: it scores every label ours scores",
               f"StringNormalizer locale: default {default_locale} -> {default_result}; "
               "set the node attribute locale=C.UTF-8 after conversion"],
    )
    open_session(candidate)
    sample = list(texts_for_divergence)
    expected = pipeline.predict_proba(sample)
    got = candidate.score(sample)
    if single:
        expected, got = expected[:, 1], got[:, 1]
    diff = np.abs(got.astype(np.float64) - expected)
    divergence = {"texts": len(sample), "max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
                  "over_1e-3": int((diff > 1e-3).sum()), "over_1e-2": int((diff > 1e-2).sum())}
    return candidate, divergence


def vocabulary_hits(model: Any, texts: Sequence[str]) -> float:
    """Mean in-vocabulary n-gram occurrences per comment (what the graph's Unique/Gather/Scatter work on)."""
    from threadguard.featurizer import build_stream, extract_ngrams
    from threadguard.linear_model import lookup

    occurrences = extract_ngrams(build_stream(list(texts)), model.params)
    return float((lookup(model.vocabulary, occurrences.keys) >= 0).sum() / len(texts))


def reference_divergence(candidate: Candidate, model: Any, texts: Sequence[str]) -> float:
    expected = model.predict_proba(list(texts))
    return float(np.abs(candidate.score(texts).astype(np.float64) - expected).max())


# -- timing -------------------------------------------------------------------------------------------------
MODES = ("single", "batch")


@dataclass
class Workload:
    singles: list[list[dict[str, np.ndarray]]]  # per candidate: one feed per comment
    batches: list[list[dict[str, np.ndarray]]]  # per candidate: one feed per batch of BATCH_SIZE


def time_calls(run: Callable[..., Any], output: list[str], feeds: list[dict[str, np.ndarray]], start: int,
               count: int) -> tuple[float, float, float]:
    """(wall, thread CPU, process CPU) seconds of ``count`` calls. With one intra-op and one inter-op thread
    onnxruntime runs every kernel on the calling thread, so thread CPU time is the cost on one core without the
    time spent waiting for a core on a shared machine."""
    n = len(feeds)
    chosen = [feeds[(start + i) % n] for i in range(count)]
    gc.collect()
    gc.disable()
    try:
        wall, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
        for feed in chosen:
            run(output, feed)
        return (time.perf_counter() - wall, time.thread_time() - thread, time.process_time() - process)
    finally:
        gc.enable()


def measure(candidates: list[Candidate], comments: list[str], reps: int, block_seconds: float) -> dict:
    """Round-robin: each repetition times every (candidate, mode) block once, rotating the order."""
    feeds = {
        (c.key, "single"): [c.feed([t]) for t in comments] for c in candidates
    } | {
        (c.key, "batch"): [c.feed(comments[i : i + BATCH_SIZE])
                           for i in range(0, len(comments) - BATCH_SIZE + 1, BATCH_SIZE)] for c in candidates
    }
    rows = {"single": 1, "batch": BATCH_SIZE}
    calls: dict[tuple[str, str], int] = {}
    for c in candidates:  # warm up, then size each block to about block_seconds
        assert c.session is not None
        for mode in MODES:
            batch = feeds[(c.key, mode)]
            time_calls(c.session.run, [c.output], batch, 0, 3)
            probe, elapsed = 1, 0.0
            while elapsed < min(0.2, block_seconds):
                probe *= 2
                elapsed = time_calls(c.session.run, [c.output], batch, 0, probe)[1]
            calls[(c.key, mode)] = max(3, math.ceil(block_seconds * probe / elapsed))
    rates: dict[tuple[str, str], list[float]] = defaultdict(list)  # comments per thread-CPU second
    wall_rates: dict[tuple[str, str], list[float]] = defaultdict(list)  # comments per wall-clock second
    thread_cpu = process_cpu = 0.0
    for rep in range(reps):
        order = candidates[rep % len(candidates):] + candidates[: rep % len(candidates)]
        modes = MODES if rep % 2 == 0 else MODES[::-1]
        for c in order:
            assert c.session is not None
            for mode in modes:
                count = calls[(c.key, mode)]
                start = rep * count
                wall, thread, process = time_calls(c.session.run, [c.output], feeds[(c.key, mode)], start,
                                                   count)
                rates[(c.key, mode)].append(count * rows[mode] / thread)
                wall_rates[(c.key, mode)].append(count * rows[mode] / wall)
                thread_cpu += thread
                process_cpu += process
        log(f"repetition {rep + 1}/{reps} done")
    return {"rates": rates, "wall_rates": wall_rates, "calls": calls,
            "process_over_thread_cpu": process_cpu / thread_cpu}


def quantile(values: Sequence[float], q: float) -> float:
    return float(np.quantile(np.asarray(values, dtype=np.float64), q))


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median over repetitions of a[i] / b[i] (both timed in the same repetition, so drift cancels)."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


# -- profiling ----------------------------------------------------------------------------------------------
STAGES = ("1 normalised stream", "2 n-gram hashing", "3 vocabulary lookup", "4 tf-idf + scoring")


def node_stages(onnx_bytes: bytes) -> dict[str, str]:
    """Node name -> stage of our graph (docs/architecture.md), from the node order training/export.py writes:
    the n-gram part starts at the ``is_sep`` node, the lookup is the ``vocabulary_lookup`` node, scoring follows."""
    import onnx

    stages, stage = {}, 0
    for node in onnx.load_from_string(onnx_bytes).graph.node:
        if stage == 0 and node.name.startswith("is_sep"):
            stage = 1
        elif node.name == "vocabulary_lookup":
            stage = 2
        elif stage == 2:
            stage = 3
        stages[node.name] = STAGES[stage]
    return stages if stage == 3 else {}


def profile(candidate: Candidate, comments: list[str], directory: str) -> dict:
    """onnxruntime's per-node profile of the candidate for single-comment and batch-of-100 runs (the first
    WARMUP_RUNS runs, which allocate buffers, are left out)."""
    report: dict[str, Any] = {}
    stage_of = node_stages(candidate.onnx_bytes)
    for mode in MODES:
        options = session_options(os.path.join(directory, f"{candidate.key}_{mode}"))
        session = ort.InferenceSession(candidate.onnx_bytes, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        shape = (lambda a: a.reshape(-1, 1)) if candidate.column_input else (lambda a: a)
        groups = ([[t] for t in comments[:PROFILE_SINGLE]] if mode == "single"
                  else [comments[i : i + BATCH_SIZE] for i in range(0, len(comments) - BATCH_SIZE + 1, BATCH_SIZE)])
        feeds = [{name: shape(np.array(g, dtype=object))} for g in groups]
        for feed in feeds[:WARMUP_RUNS]:
            session.run([candidate.output], feed)
        began = time.perf_counter()
        for feed in feeds:
            session.run([candidate.output], feed)
        wall = (time.perf_counter() - began) / len(feeds)
        path = session.end_profiling()
        events = json.loads(Path(path).read_text())
        Path(path).unlink(missing_ok=True)
        by_node: dict[str, float] = defaultdict(float)
        op_of: dict[str, str] = {}
        by_op: dict[str, float] = defaultdict(float)
        count_op: dict[str, set[str]] = defaultdict(set)
        model_runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                            key=lambda e: e["ts"])
        cutoff = model_runs[WARMUP_RUNS - 1]["ts"] + model_runs[WARMUP_RUNS - 1]["dur"]
        runs = len(model_runs) - WARMUP_RUNS
        for event in events:
            if (event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time")
                    or event["ts"] < cutoff):
                continue
            node = event["name"][: -len("_kernel_time")]
            op = event.get("args", {}).get("op_name", "?")
            by_node[node] += event["dur"]
            op_of[node] = op
            by_op[op] += event["dur"]
            count_op[op].add(node)
        total = sum(by_node.values())
        runs = max(runs, 1)
        by_stage: dict[str, float] = defaultdict(float)
        for node, duration in by_node.items():
            by_stage[stage_of.get(node, "other (fused/renamed)")] += duration
        report[mode] = {
            "runs": runs,
            "rows_per_run": 1 if mode == "single" else BATCH_SIZE,
            "wall_us_per_run_profiled": wall * 1e6,
            "node_us_per_run": total / runs,
            "nodes_executed": len(by_node),
            "top_nodes": [{"node": n, "op": op_of[n], "us_per_run": d / runs, "share": d / total}
                          for n, d in sorted(by_node.items(), key=lambda kv: -kv[1])[:12]],
            "top_ops": [{"op": o, "nodes": len(count_op[o]), "us_per_run": d / runs, "share": d / total}
                        for o, d in sorted(by_op.items(), key=lambda kv: -kv[1])[:12]],
            "stages": [{"stage": st, "us_per_run": d / runs, "share": d / total}
                       for st, d in sorted(by_stage.items()) if stage_of],
        }
    return report


# -- report -------------------------------------------------------------------------------------------------
def machine_info() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("onnxruntime", "onnx", "numpy", "scikit-learn", "skl2onnx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "?"
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "onnxruntime_providers": ort.get_available_providers(),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(result: dict) -> str:
    lines = []
    m = result["machine"]
    lines.append("threadguard ONNX scoring benchmark")
    lines.append(f"command     : {result['command']}")
    lines.append(f"machine     : nproc={m['nproc']}, CPU {m['cpu_model']}, load avg {result['load_before']} "
                 f"(before) {result['load_after']} (after)")
    lines.append(f"versions    : onnxruntime {m['versions']['onnxruntime']}, onnx {m['versions']['onnx']}, "
                 f"skl2onnx {m['versions']['skl2onnx']}, scikit-learn {m['versions']['scikit-learn']}, "
                 f"python {m['python']}")
    lines.append("sessions    : CPUExecutionProvider, intra_op_num_threads=1, inter_op_num_threads=1 (one core)")
    lines.append(f"model       : {result['model']}")
    c = result["comments"]
    lines.append(f"comments    : {c['count']} from the corpus validation split, {c['min_chars']}-{c['max_chars']} "
                 f"chars (mean {c['mean_chars']:.0f}), seed {c['seed']}")
    lines.append(f"timing      : {result['reps']} interleaved (round-robin) repetitions of ~{result['block_seconds']}s "
                 "blocks per candidate and mode; medians")
    lines.append("              c/s = comments per CPU-second of the scoring thread (the one core; robust to waiting "
                 "for a shared core);")
    lines.append(f"              wall = comments per wall-clock second (process/thread CPU during timing: "
                 f"{result['process_over_thread_cpu']:.3f})")
    lines.append("")
    header = (f"{'candidate':<38} {'vocab':>9} {'lab':>3} {'hits/cmt':>8} | {'single c/s':>10} {'IQR':>4} "
              f"{'us/cmt':>7} {'wall c/s':>8} | {'batch100 c/s':>12} {'IQR':>4} {'us/cmt':>7} {'wall c/s':>8}")
    lines.append(header)
    lines.append("-" * len(header))
    for row in result["candidates"]:
        s, b = row["single"], row["batch"]
        hits = row.get("vocabulary_hits_per_comment")
        lines.append(
            f"{row['title']:<38} {row['vocabulary']:>9,} {row['labels']:>3} "
            f"{(f'{hits:.0f}' if hits is not None else '-'):>8} | {s['median']:>10,.0f} {s['iqr_pct']:>3.0f}% "
            f"{1e6 / s['median']:>7.1f} {s['wall_median']:>8,.0f} | {b['median']:>12,.0f} {b['iqr_pct']:>3.0f}% "
            f"{1e6 / b['median']:>7.1f} {b['wall_median']:>8,.0f}"
        )
    lines.append("(hits/cmt: in-vocabulary n-gram occurrences per comment; IQR as % of the median)")
    lines.append("")
    lines.append("targets (ratios are medians of per-repetition paired ratios)")
    for check in result["checks"]:
        lines.append(f"  [{check['verdict']}] {check['name']:<58} {check['value_text']:>12}   target "
                     f"{check['target_text']}")
    lines.append("")
    lines.append("notes")
    for row in result["candidates"]:
        for note in row["notes"]:
            lines.append(f"  - {row['title']}: {note}")
        lines.append(f"  - {row['title']}: model.onnx {row['onnx_mb']:.1f} MB, session created in "
                     f"{row['load_seconds']:.2f}s")
    d = result["naive_divergence"]
    lines.append(f"  - naive skl2onnx vs scikit-learn on {d['texts']} comments: max |diff| {d['max_abs']:.3g}, "
                 f"mean {d['mean_abs']:.3g}, {d['over_1e-3']} over 1e-3, {d['over_1e-2']} over 1e-2 (the ONNX "
                 "tokenizer regex [a-zA-Z0-9_]+ differs from scikit-learn's (?u)\\b\\w\\w+\\b)")
    for key, value in result["reference_divergence"].items():
        lines.append(f"  - {key}: max |onnx - numpy reference| {value:.2g} on {result['reference_texts']} comments")
    if result.get("profile"):
        for candidate, report in result["profile"].items():
            for mode, p in report.items():
                lines.append("")
                lines.append(f"profile of {candidate}, {mode} ({p['rows_per_run']} comment(s)/run, {p['runs']} runs):"
                             f" wall {p['wall_us_per_run_profiled']:.0f} us/run (profiling on), node time "
                             f"{p['node_us_per_run']:.0f} us/run over {p['nodes_executed']} nodes "
                             "(profiler: wall-clock, adds a fixed cost per node; read the shares)")
                lines.append(f"  {'top nodes':<40} {'op':<22} {'us/run':>9} {'share':>6}")
                for n in p["top_nodes"]:
                    lines.append(f"  {n['node'][:40]:<40} {n['op']:<22} {n['us_per_run']:>9.1f} {n['share']:>6.1%}")
                lines.append(f"  {'top op types':<40} {'nodes':<22} {'us/run':>9} {'share':>6}")
                for o in p["top_ops"]:
                    lines.append(f"  {o['op']:<40} {o['nodes']:<22} {o['us_per_run']:>9.1f} {o['share']:>6.1%}")
                if p["stages"]:
                    lines.append(f"  {'graph stages':<63} {'us/run':>9} {'share':>6}")
                    for st in p["stages"]:
                        lines.append(f"  {st['stage']:<63} {st['us_per_run']:>9.1f} {st['share']:>6.1%}")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="bundle or model directory (default: the shipped default bundle)")
    parser.add_argument("--quick", action="store_true", help="short run (fewer repetitions, shorter blocks)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--profile", action="store_true",
                        help="also profile our model and the naive export per graph node (single and batched runs)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 15, quick 5)")
    parser.add_argument("--block-seconds", type=float, help="seconds per timed block (default 0.4, quick 0.12)")
    parser.add_argument("--comments", type=int, help="distinct comments (default 3000, quick 1000)")
    parser.add_argument("--config", help="training config TOML for the corpus (default: training/configs/default.toml)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    reps = args.reps or (5 if args.quick else 15)
    block_seconds = args.block_seconds or (0.12 if args.quick else 0.4)
    n_comments = max(args.comments or (1000 if args.quick else 3000), BATCH_SIZE)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())

    from threadguard.bundle import BundleError, load_bundle
    from threadguard.featurizer import FeaturizerParams
    from threadguard.linear_model import LinearNgramModel
    from training.config import load_config
    from training.corpus import build_corpus
    from training.ngram_counts import NgramCounts
    from training.pipeline import PipelineSettings
    from training.vectorizer import HashedNgramVectorizer

    config = load_config(args.config)
    bundle = None
    try:
        bundle = load_bundle(args.model)
    except BundleError as exc:
        if args.model:
            raise
        log(f"no shipped bundle ({exc}); running bundle-free")
    if bundle is not None:
        params = FeaturizerParams.from_manifest(bundle.manifest.featurizer)
        labels = bundle.labels
        log(f"bundle {bundle.path} ({len(labels)} labels)")
    else:
        settings = PipelineSettings.from_config(config.featurizer, config.classifier)
        params, labels = settings.featurizer, list(config.labels)

    log("building the training corpus")
    frame = build_corpus(config).frame
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    val = frame[frame["split"] == "val"]
    comments = make_comments({s: g["text"].tolist() for s, g in val.groupby("source", sort=True)}, n_comments,
                             args.seed)
    lengths = [len(t) for t in comments]

    log(f"counting n-grams of {len(train):,} training texts")
    counts = NgramCounts.from_texts(train["text"].tolist(), params)
    positions = np.arange(counts.n_rows)

    def fit_vocabulary(size: int) -> HashedNgramVectorizer:
        return HashedNgramVectorizer(params, min_df=1, max_features=size).fit_counts(counts, positions)

    candidates: list[Candidate] = []
    references: dict[str, Any] = {}
    if bundle is not None:
        ours_model = LinearNgramModel.from_bundle(bundle)
        ours = Candidate(key="ours", title=f"ours ({bundle.name} {bundle.version})",
                         onnx_bytes=bundle.onnx_path.read_bytes(), vocabulary=int(ours_model.vocabulary.size),
                         labels=len(labels), column_input=False, output=bundle.manifest.onnx.output,
                         notes=[f"shipped bundle {bundle.path}"])
        vocab_size = int(bundle.manifest.featurizer.get("vocabulary_size", ours_model.vocabulary.size))
        model_text = f"{bundle.path} (manifest featurizer.vocabulary_size {vocab_size:,})"
    else:
        size = settings.max_features or SMALL_VOCAB
        vectorizer = fit_vocabulary(size)
        ours_model = random_model(params, labels, vectorizer.vocabulary_, vectorizer.idf_, args.seed)
        ours = our_candidate("ours", "ours (bundle-free, random weights)", ours_model,
                             [f"BUNDLE-FREE: vocabulary fitted here at config max_features={size:,}, random weights"])
        vocab_size = int(ours_model.vocabulary.size)
        model_text = f"bundle-free (no shipped bundle), vocabulary {vocab_size:,}"
    candidates.append(ours)
    references["ours"] = ours_model

    for size, key in ((SMALL_VOCAB, "ours_50k"), (LARGE_VOCAB, "ours_1m")):
        vectorizer = fit_vocabulary(size)
        got = int(vectorizer.vocabulary_.size)
        log(f"vocabulary {key}: {got:,} n-grams (of {vectorizer.n_distinct_ngrams_:,} distinct in train)")
        model = random_model(params, labels, vectorizer.vocabulary_, vectorizer.idf_, args.seed + size)
        label = f"{got / 1e6:.2f}M" if got >= 1e6 else f"{got / 1000:.0f}k"
        candidates.append(our_candidate(key, f"ours @ {label} n-grams (random wts)", model,
                                        [f"graph exported by training.export.export_bytes; top {got:,} n-grams "
                                         f"by document frequency of {vectorizer.n_distinct_ngrams_:,} distinct"]))
        references[key] = model

    log(f"training the naive TF-IDF + LR at vocabulary {vocab_size:,} and converting with skl2onnx")
    naive, divergence = naive_candidate(train, vocab_size, comments[:DIVERGENCE_TEXTS], sublinear_tf=True)
    naive_raw, _ = naive_candidate(train, vocab_size, comments[:DIVERGENCE_TEXTS], sublinear_tf=False)
    naive_all, _ = naive_candidate(train, vocab_size, comments[:DIVERGENCE_TEXTS], sublinear_tf=False,
                                   labels=labels, seed=args.seed)
    candidates[1:1] = [naive, naive_raw, naive_all]
    for c in candidates:
        if c.session is None:
            open_session(c)
        log(f"session {c.key}: {len(c.onnx_bytes) / 1e6:.1f} MB, created in {c.load_seconds:.2f}s")
    reference_texts = comments[:200]
    reference = {c.title: reference_divergence(c, references[c.key], reference_texts)
                 for c in candidates if c.key in references}

    log(f"timing {len(candidates)} candidates x {len(MODES)} modes x {reps} repetitions")
    measured = measure(candidates, comments, reps, block_seconds)
    rates = measured["rates"]

    rows = []
    for c in candidates:
        row = {"key": c.key, "title": c.title, "vocabulary": c.vocabulary, "labels": c.labels,
               "onnx_mb": len(c.onnx_bytes) / 1e6, "load_seconds": c.load_seconds, "notes": c.notes}
        if c.key in references:
            row["vocabulary_hits_per_comment"] = vocabulary_hits(references[c.key], comments[:500])
        for mode in MODES:
            values, walls = rates[(c.key, mode)], measured["wall_rates"][(c.key, mode)]
            median = statistics.median(values)
            row[mode] = {"median": median, "iqr_pct": 100 * (quantile(values, 0.75) - quantile(values, 0.25)) / median,
                         "wall_median": statistics.median(walls), "calls_per_block": measured["calls"][(c.key, mode)],
                         "rates_cpu": values, "rates_wall": walls}
        rows.append(row)

    def check(name: str, value: float, ok: bool, value_text: str, target_text: str) -> dict:
        return {"name": name, "value": value, "verdict": verdict(ok), "value_text": value_text,
                "target_text": target_text}

    ours_batch = statistics.median(rates[("ours", "batch")])
    checks = [check("ours batch-of-100 comments per CPU-second (one core)", ours_batch,
                    ours_batch >= TARGET_BATCH_PER_S, f"{ours_batch:,.0f}", f">= {TARGET_BATCH_PER_S:,.0f}")]
    for naive_key, tf in (("naive", "sublinear tf, 1 label"), ("naive_raw", "raw tf, 1 label"),
                          ("naive_raw_all", f"raw tf, {len(labels)} labels: the equivalent pipeline")):
        for mode in ("batch", "single"):
            speedup = paired_ratio(rates[("ours", mode)], rates[(naive_key, mode)])
            checks.append(check(f"ours / naive skl2onnx ({tf}), {'batch of 100' if mode == 'batch' else '1/call'}",
                                speedup, speedup >= TARGET_SPEEDUP, f"{speedup:.1f}x", f">= {TARGET_SPEEDUP:.0f}x"))
    for mode in ("batch", "single"):
        cost = paired_ratio(rates[("ours_50k", mode)], rates[("ours_1m", mode)])  # cost(1M) / cost(50k)
        checks.append(check(f"cost per comment @1M / @50k n-grams, {mode}", cost, cost < TARGET_VOCAB_COST,
                            f"{cost:.2f}x", f"< {TARGET_VOCAB_COST}x"))

    result: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": machine_info(),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "model": model_text,
        "comments": {"count": len(comments), "min_chars": min(lengths), "max_chars": max(lengths),
                     "mean_chars": float(np.mean(lengths)), "seed": args.seed, "split": "val"},
        "reps": reps,
        "block_seconds": block_seconds,
        "batch_size": BATCH_SIZE,
        "candidates": rows,
        "checks": checks,
        "naive_divergence": divergence,
        "reference_divergence": reference,
        "reference_texts": len(reference_texts),
        "process_over_thread_cpu": measured["process_over_thread_cpu"],
    }
    if args.profile:
        log("profiling our model and the naive export per node")
        with tempfile.TemporaryDirectory() as directory:
            result["profile"] = {c.title: profile(c, comments[:PROFILE_TEXTS], directory) for c in (ours, naive)}

    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
