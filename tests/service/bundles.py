"""Builds small but real model bundles for the service tests.

The ONNX graph honours the production contract (input ``text`` string[N] -> output ``scores`` float32[N, L],
labels in manifest order) with a word-weight model::

    com.microsoft.Tokenizer (words) -> ai.onnx.ml.LabelEncoder (word -> row) -> Gather(weights [V+1, L])
    -> ReduceSum over words -> Add(bias) -> Sigmoid

It is written with ``threadguard.bundle.write_bundle``, so it is verified and loaded exactly like the real
bundle. :class:`WordWeightExplainer` explains it from the weights recorded in the manifest, which lets tests
check span offsets end to end without the n-gram explainer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from service.core.explain import Span
from threadguard.bundle import CURRENT_POINTER_FILE, ModelBundle, write_bundle

MODEL_NAME = "threadguard-test"
LABELS: tuple[str, ...] = (
    "toxicity",
    "severe_toxicity",
    "identity_attack",
    "insult",
    "profanity",
    "threat",
    "atrocity_denial",
)
EXPERIMENTAL = frozenset({"atrocity_denial"})
TOKEN_PATTERN_RE2 = "[\\p{L}\\p{N}']+"
TOKEN_PATTERN_PY = re.compile(r"(?:[^\W_]|')+")

# word -> {label: weight}; bias -4 everywhere, so an unknown text scores sigmoid(-4) ~= 0.018
WORDS: dict[str, dict[str, float]] = {
    "idiot": {"insult": 4.0, "toxicity": 3.0},
    "stupid": {"insult": 3.0, "toxicity": 2.5},
    "moron": {"insult": 4.0, "toxicity": 3.0},
    "damn": {"profanity": 4.0, "toxicity": 1.0},
    "crap": {"profanity": 3.5, "toxicity": 1.0},
    "kill": {"threat": 4.5, "toxicity": 2.0, "severe_toxicity": 1.0},
    "hurt": {"threat": 3.0, "toxicity": 1.0},
    "vermin": {"identity_attack": 5.0, "toxicity": 3.0, "severe_toxicity": 2.0},
    "staged": {"atrocity_denial": 4.0},
    "hoax": {"atrocity_denial": 4.0},
    "fake": {"atrocity_denial": 2.0},
}
BIAS = -4.0
THRESHOLDS: dict[str, dict[str, float | None]] = {
    label: {"review": 0.5, "block": None if label in EXPERIMENTAL else 0.9} for label in LABELS
}


def word_weights(scale: float = 1.0) -> dict[str, dict[str, float]]:
    """label -> word -> weight (what the manifest records for the explainer)."""
    table: dict[str, dict[str, float]] = {label: {} for label in LABELS}
    for word, weights in WORDS.items():
        for label, weight in weights.items():
            table[label][word] = weight * scale
    return table


def build_onnx(
    labels: Sequence[str] = LABELS,
    *,
    scale: float = 1.0,
    bias: float = BIAS,
    output_columns: int | None = None,
) -> bytes:
    """A real ONNX word-weight classifier. ``output_columns`` != len(labels) makes a broken model."""
    columns = len(labels) if output_columns is None else output_columns
    vocabulary: list[str] = []
    rows: list[np.ndarray] = []
    for word, word_labels in WORDS.items():
        row = np.zeros(columns, dtype=np.float32)
        for label, weight in word_labels.items():
            if label in labels and labels.index(label) < columns:
                row[labels.index(label)] = weight * scale
        for variant in dict.fromkeys((word, word.capitalize(), word.upper())):
            vocabulary.append(variant)
            rows.append(row)
    rows.append(np.zeros(columns, dtype=np.float32))  # out-of-vocabulary and padding row
    weights = np.stack(rows)
    nodes = [
        helper.make_node(
            "Tokenizer",
            ["text"],
            ["tokens"],
            domain="com.microsoft",
            mark=0,
            pad_value="#",
            mincharnum=1,
            tokenexp=TOKEN_PATTERN_RE2,
        ),
        helper.make_node(
            "LabelEncoder",
            ["tokens"],
            ["ids"],
            domain="ai.onnx.ml",
            keys_strings=vocabulary,
            values_int64s=list(range(len(vocabulary))),
            default_int64=len(vocabulary),
        ),
        helper.make_node("Gather", ["weights", "ids"], ["gathered"], axis=0),
        helper.make_node("ReduceSum", ["gathered", "word_axis"], ["logit_sum"], keepdims=0),
        helper.make_node("Add", ["logit_sum", "bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "threadguard_test_words",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", columns])],
        initializer=[
            helper.make_tensor("weights", TensorProto.FLOAT, weights.shape, weights.flatten().tolist()),
            helper.make_tensor("word_axis", TensorProto.INT64, [1], [1]),
            helper.make_tensor("bias", TensorProto.FLOAT, [columns], [bias] * columns),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 20),
            helper.make_opsetid("ai.onnx.ml", 3),
            helper.make_opsetid("com.microsoft", 1),
        ],
        ir_version=10,
        producer_name="threadguard-tests",
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def build_bundle(
    bundle_dir: Path,
    version: str,
    *,
    scale: float = 1.0,
    bias: float = BIAS,
    output_columns: int | None = None,
    thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
) -> ModelBundle:
    """Write a test bundle at ``bundle_dir`` (``<model dir>/<version>``)."""
    manifest: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": version,
        "labels": list(LABELS),
        "label_info": {
            label: {"description": f"test label {label}", "experimental": label in EXPERIMENTAL} for label in LABELS
        },
        "thresholds": dict(thresholds or THRESHOLDS),
        "languages": ["en"],
        "featurizer": {"kind": "test-word-weights", "weights": word_weights(scale), "bias": bias},
        "onnx": {"opset": 20},
        "code_version": "tests",
    }
    return write_bundle(
        bundle_dir,
        manifest_fields=manifest,
        onnx_bytes=build_onnx(LABELS, scale=scale, bias=bias, output_columns=output_columns),
        model_card=f"# {MODEL_NAME} {version}\n\nA word-weight test model.\n",
    )


def set_current(model_dir: Path, version: str) -> None:
    """Point ``<model dir>/current`` at ``version`` (atomic replace, like the registry does)."""
    tmp = model_dir / f".{CURRENT_POINTER_FILE}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    tmp.replace(model_dir / CURRENT_POINTER_FILE)


def build_model_dir(root: Path, versions: Mapping[str, float], *, current: str) -> Path:
    """A model directory with one bundle per ``version -> weight scale`` and a ``current`` pointer."""
    model_dir = root / MODEL_NAME
    for version, scale in versions.items():
        build_bundle(model_dir / version, version, scale=scale)
    set_current(model_dir, current)
    return model_dir


def corrupt_onnx(bundle_dir: Path) -> None:
    """Change the ONNX bytes after writing, so the manifest's sha256 no longer matches."""
    path = bundle_dir / "model.onnx"
    path.write_bytes(path.read_bytes() + b"\x00")


class WordWeightExplainer:
    """Explains a test bundle: each vocabulary word in the text is a span weighted by its label weight."""

    available = True
    reason: str | None = None

    def __init__(self, weights: Mapping[str, Mapping[str, float]]) -> None:
        self._weights = weights

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> WordWeightExplainer:
        return cls(bundle.manifest.featurizer["weights"])

    def explain(self, text: str, labels: Sequence[str], *, top_k: int) -> list[Span]:
        spans: list[Span] = []
        for label in labels:
            table = self._weights.get(label, {})
            found = [
                Span(label, m.start(), m.end(), float(table[m.group().lower()]))
                for m in TOKEN_PATTERN_PY.finditer(text)
                if table.get(m.group().lower(), 0.0) > 0.0
            ]
            found.sort(key=lambda span: -span.weight)
            spans.extend(found[:top_k])
        return spans


NGRAM_LABELS: tuple[str, ...] = ("toxicity", "insult")
NGRAM_TOXIC_WORDS: tuple[str, ...] = ("stupid", "idiot", "moron")


def build_ngram_bundle(bundle_dir: Path, version: str = "ngram-1") -> ModelBundle:
    """A real threadguard n-gram bundle (the production graph from ``training.export``).

    Its vocabulary is every n-gram of a few sentences; only n-grams of :data:`NGRAM_TOXIC_WORDS` carry
    weight, so the default n-gram explainer should point at exactly those words. Needs the trainer package.
    """
    from threadguard.featurizer import FeaturizerParams, build_stream, extract_ngrams
    from threadguard.linear_model import LinearNgramModel
    from training.export import export_bytes

    params = FeaturizerParams()
    corpus = ["you are a stupid idiot", "what a moron", "thanks for the careful reporting", "hello world"]
    vocabulary = np.unique(extract_ngrams(build_stream(corpus), params).keys)
    toxic = np.unique(extract_ngrams(build_stream(list(NGRAM_TOXIC_WORDS)), params).keys)
    weights = np.zeros((vocabulary.size, len(NGRAM_LABELS)), dtype=np.float32)
    weights[np.isin(vocabulary, toxic)] = 4.0
    model = LinearNgramModel(
        params=params,
        labels=NGRAM_LABELS,
        vocabulary=vocabulary,
        idf=np.ones(vocabulary.size),
        weights=weights,
        bias=np.full(len(NGRAM_LABELS), -3.0),
    )
    manifest: dict[str, Any] = {
        "name": "threadguard-ngram-test",
        "version": version,
        "labels": list(NGRAM_LABELS),
        "thresholds": {label: {"review": 0.5, "block": 0.9} for label in NGRAM_LABELS},
        "featurizer": params.to_manifest(),
        "code_version": "tests",
    }
    return write_bundle(
        bundle_dir,
        manifest_fields=manifest,
        onnx_bytes=export_bytes(model),
        model_card="# n-gram test bundle\n",
    )
