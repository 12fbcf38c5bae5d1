"""The exported ONNX graph computes exactly what the trainer computes, without a locale, at flat cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest

from tests.adversarial import ADVERSARIAL_TEXTS
from threadguard.featurizer import FeaturizerParams, build_stream, extract_ngrams, normalized_texts
from threadguard.linear_model import LinearNgramModel
from training.export import build_onnx, export_bytes
from training.pipeline import PipelineSettings, fit_pipeline

TOLERANCE = 1e-5


def _session(model_bytes: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def _run(session: ort.InferenceSession, texts: list[str]) -> np.ndarray:
    return session.run(["scores"], {"text": np.array(texts, dtype=object)})[0]


def _random_model(texts: list[str], labels: int = 3, seed: int = 0,
                  params: FeaturizerParams | None = None) -> LinearNgramModel:
    """A model whose vocabulary is every n-gram of ``texts`` with random weights: every feature matters."""
    params = params or FeaturizerParams()
    keys = np.unique(extract_ngrams(build_stream(texts), params).keys)
    rng = np.random.default_rng(seed)
    return LinearNgramModel(
        params=params,
        labels=tuple(f"label_{i}" for i in range(labels)),
        vocabulary=keys,
        idf=rng.uniform(1.0, 6.0, keys.size),
        weights=rng.normal(0.0, 2.0, (keys.size, labels)).astype(np.float32),
        bias=rng.normal(0.0, 1.0, labels),
    )


def test_adversarial_parity_batched_and_single() -> None:
    model = _random_model(ADVERSARIAL_TEXTS)
    session = _session(export_bytes(model))
    reference = model.predict_proba(ADVERSARIAL_TEXTS)
    batched = _run(session, ADVERSARIAL_TEXTS)
    assert batched.shape == (len(ADVERSARIAL_TEXTS), 3)
    assert np.abs(batched - reference).max() <= TOLERANCE
    for i, text in enumerate(ADVERSARIAL_TEXTS):
        single = _run(session, [text])
        assert np.abs(single[0] - reference[i]).max() <= TOLERANCE, repr(text[:40])


@pytest.mark.parametrize(
    "params",
    [
        FeaturizerParams(char_ngram_lengths=(3, 5), family_weights=(1.0, 0.5)),  # gaps between lengths
        FeaturizerParams(char_ngram_lengths=(4,), word_ngram_max=1),  # one length, no bigrams
        FeaturizerParams(char_ngram_lengths=(1, 2), word_ngram_max=0, max_word_chars=3),  # no word family
    ],
    ids=["chars-3-5", "chars-4-words-1", "chars-1-2-no-words"],
)
def test_parity_for_other_featurizer_shapes(params: FeaturizerParams) -> None:
    model = _random_model(ADVERSARIAL_TEXTS, params=params)
    session = _session(export_bytes(model))
    reference = model.predict_proba(ADVERSARIAL_TEXTS)
    assert np.abs(_run(session, ADVERSARIAL_TEXTS) - reference).max() <= TOLERANCE
    assert np.abs(_run(session, ADVERSARIAL_TEXTS[:1]) - reference[:1]).max() <= TOLERANCE
    # only the configured lengths are features: a model over them alone scores differently from the default
    assert not np.allclose(reference, _random_model(ADVERSARIAL_TEXTS).predict_proba(ADVERSARIAL_TEXTS))


def test_parity_on_random_texts_from_a_rule_heavy_alphabet() -> None:
    """Random strings of letters, spaces, leet candidates and repeats hit every contextual rule (leetspeak,
    space and repeat squeezing, s p a c e d letters) in every combination and at text edges; the graph's window
    codes and combined drop pass must agree with the sequential numpy rules on each of them, batched and alone."""
    rng = np.random.default_rng(7)
    alphabet = [*"aab  s!|1@0$*x", "  ", "\t", "aaa", "s h", "1d"]
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 24))) for _ in range(400)]
    model = _random_model(texts, labels=2)
    normalised = normalized_texts(texts)
    assert sum("  " in t for t in texts) > 50 and any(t != n.strip() for t, n in zip(texts, normalised, strict=True))
    session = _session(export_bytes(model))
    reference = model.predict_proba(texts)
    assert np.abs(_run(session, texts) - reference).max() <= TOLERANCE
    singles = np.vstack([_run(session, [text]) for text in texts[:150]])
    assert np.abs(singles - reference[:150]).max() <= TOLERANCE


def test_scores_respond_to_features() -> None:
    """Guard against a parity test that passes because nothing is looked up: scores must vary by text."""
    model = _random_model(ADVERSARIAL_TEXTS)
    scores = _run(_session(export_bytes(model)), ADVERSARIAL_TEXTS)
    assert np.unique(np.round(scores[:, 0], 6)).size > len(ADVERSARIAL_TEXTS) // 2


def test_normalisation_defeats_obfuscation() -> None:
    normal = normalized_texts(["Ｆｕｃｋ", "s h i t", "1diot", "stuuuupid", "іdiot", "e\u0301cole\u200b", "2020"])
    assert normal == [" fuck ", " shit ", " idiot ", " stuupid ", " idiot ", " ecole ", " 2020 "]


def test_trainer_matrix_path_matches_onnx() -> None:
    """The sparse matrix the classifiers were fitted on and the ONNX graph give the same probabilities."""
    rng = np.random.default_rng(1)
    words = ["idiot", "you", "are", "great", "staged", "news", "thanks", "f*ck", "moron", "article", "good"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(400)]
    y = np.array([int(("idiot" in t) or ("moron" in t)) for t in texts], dtype=float)
    frame = pd.DataFrame({"text": texts, "source": rng.choice(["a", "b"], len(texts)), "toxicity": y,
                          "insult": np.where(rng.random(len(texts)) < 0.3, np.nan, y), "weight": 1.0})
    fitted = fit_pipeline(frame.iloc[:300], frame.iloc[300:], ["toxicity", "insult"],
                          PipelineSettings(min_df=1, max_features=None))
    held_out = frame.iloc[300:]["text"].tolist() + ADVERSARIAL_TEXTS
    from_matrix = fitted.score_matrix(fitted.vectorizer.transform(held_out))
    from_onnx = _run(_session(export_bytes(fitted.model)), held_out)
    assert np.abs(from_matrix - from_onnx).max() <= TOLERANCE
    toxic = [i for i, t in enumerate(held_out[:100]) if "idiot" in t or "moron" in t]
    clean = [i for i, t in enumerate(held_out[:100]) if i not in toxic]
    assert from_onnx[toxic, 0].mean() > from_onnx[clean, 0].mean() + 0.3


def test_graph_has_no_locale_dependent_or_dense_ops() -> None:
    graph = build_onnx(_random_model(["some text", "more text"])).graph
    op_types = {node.op_type for node in graph.node}
    assert "StringNormalizer" not in op_types  # needs a locale
    assert "TfIdfVectorizer" not in op_types  # dense [N, |V|] output
    assert not {"Unique", "TopK", "Loop"} & op_types  # grouping/sorting or loops cost super-linearly here
    # scatter reductions race in onnxruntime with several threads; per-text sums are CumSum differences
    assert not any(node.op_type.startswith("Scatter") and any(a.name == "reduction" for a in node.attribute)
                   for node in graph.node)
    assert {"Tokenizer", "LabelEncoder", "CumSum"} <= op_types


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_parity_holds_with_several_threads(threads: int) -> None:
    """Scores do not depend on onnxruntime's intra-op parallelism (repeated runs, big batch)."""
    texts = ADVERSARIAL_TEXTS * 4
    model = _random_model(ADVERSARIAL_TEXTS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(export_bytes(model), options, providers=["CPUExecutionProvider"])
    reference = model.predict_proba(texts)
    for _ in range(5):
        assert np.abs(_run(session, texts) - reference).max() <= TOLERANCE


NO_LOCALE_SCRIPT = """
import json, sys
import numpy as np, onnxruntime as ort
texts = json.loads(sys.stdin.read())
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
print(json.dumps(session.run(["scores"], {"text": np.array(texts, dtype=object)})[0].tolist()))
"""


@pytest.mark.parametrize("locale_env", [{"LC_ALL": "C"}, {"LANG": "C.UTF-8"}, {"LC_ALL": "en_US.UTF-8"}, {}])
def test_runs_without_a_locale(tmp_path, locale_env: dict[str, str]) -> None:
    """A clean environment (no LANG, or only C / C.UTF-8, or a locale that is not installed) scores the same."""
    model = _random_model(ADVERSARIAL_TEXTS)
    path = tmp_path / "model.onnx"
    path.write_bytes(export_bytes(model))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **locale_env}
    result = subprocess.run([sys.executable, "-c", NO_LOCALE_SCRIPT, str(path)], input=json.dumps(ADVERSARIAL_TEXTS),
                            capture_output=True, text=True, env=env, timeout=120, check=True)
    scores = np.array(json.loads(result.stdout))
    assert np.abs(scores - model.predict_proba(ADVERSARIAL_TEXTS)).max() <= TOLERANCE


def test_checker_accepts_model() -> None:
    onnx.checker.check_model(build_onnx(_random_model(["a b c"])))


def test_shipped_bundle_is_what_this_exporter_writes() -> None:
    """The default bundle's graph is the one training/export.py builds from its own weights: an exporter change
    must ship as a new model version (retrain or re-export, then promote), never drift from the bundle."""
    from threadguard.bundle import load_bundle

    bundle = load_bundle()
    model = LinearNgramModel.from_bundle(bundle)
    shipped = onnx.load(str(bundle.onnx_path))
    assert build_onnx(model).graph.SerializeToString() == shipped.graph.SerializeToString()
