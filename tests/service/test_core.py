"""The moderation core without HTTP: scoring, policy, threads, model holder, reload channel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.core.errors import InvalidInput, ModelNotReady, ModelRejected, PolicyError
from service.core.explain import UnavailableExplainer, ngram_explainer, sanitize_spans
from service.core.model_holder import ModelHolder, ModelLoader
from service.core.moderation import Limits, ModerationCore, ModerationItem
from service.core.policy import Policy
from service.core.reload import ReloadChannel, ReloadCoordinator
from service.core.text import check_text
from service.core.threads import ThreadError, build_thread, escalation, hottest_chain
from tests.service.bundles import LABELS, WordWeightExplainer, build_bundle, corrupt_onnx, set_current
from threadguard.bundle import load_bundle


@pytest.fixture
def models(tmp_path: Path) -> Path:
    model_dir = tmp_path / "m"
    build_bundle(model_dir / "1", "1")
    build_bundle(model_dir / "2", "2", scale=2.0)
    set_current(model_dir, "1")
    return model_dir


def holder_for(path: Path, **kwargs: object) -> ModelHolder:
    return ModelHolder(ModelLoader(path, explainer_factory=WordWeightExplainer.from_bundle, **kwargs))  # type: ignore[arg-type]


# --- text -----------------------------------------------------------------------------------------------


def test_check_text_counts_utf8_bytes_not_characters() -> None:
    check_text("€" * 10, max_bytes=30)
    with pytest.raises(InvalidInput) as info:
        check_text("€" * 11, max_bytes=30)
    assert info.value.code == "text_too_long"


@pytest.mark.parametrize(
    ("text", "code"), [("", "text_empty"), (" \n\t", "text_empty"), ("a\ud800b", "text_invalid_unicode")]
)
def test_check_text_rejects(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_text(text, max_bytes=100)
    assert info.value.code == code


# --- scoring --------------------------------------------------------------------------------------------


def test_scorer_chunks_by_padded_size_and_keeps_order(models: Path) -> None:
    small = holder_for(models, max_batch_chars=2048)
    whole = holder_for(models)
    texts = ["idiot " * 300, "fine", "kill", "you moron " * 100, "damn", ""] * 3
    a = small.load().scorer.score(texts)
    b = whole.load().scorer.score(texts)
    assert a.shape == (len(texts), len(LABELS))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert small.require().scorer.score([]).shape == (0, len(LABELS))


# --- policy ---------------------------------------------------------------------------------------------


def test_policy_overrides_thresholds_and_disables_labels(models: Path) -> None:
    manifest = load_bundle(models).manifest
    policy = Policy.from_manifest(
        manifest,
        {"disabled_labels": ["profanity"], "thresholds": {"insult": {"review": 0.3}}},
        source="p.toml",
    )
    view = policy.as_dict()["labels"]
    assert view["insult"] == {
        "review": 0.3,
        "block": 0.9,
        "disabled": False,
        "experimental": False,
        "source": "policy",
    }
    assert view["profanity"]["disabled"] is True
    scores = np.zeros((1, len(LABELS)), dtype=np.float32)
    scores[0, LABELS.index("insult")] = 0.35
    scores[0, LABELS.index("profanity")] = 0.99
    decided = policy.decide(scores)
    assert decided.decision.tolist() == [1]
    assert [LABELS[j] for j in np.flatnonzero(decided.triggered[0])] == ["insult"]


def test_experimental_label_reviews_but_never_blocks(models: Path) -> None:
    policy = Policy.from_manifest(load_bundle(models).manifest)
    scores = np.zeros((1, len(LABELS)), dtype=np.float32)
    scores[0, LABELS.index("atrocity_denial")] = 1.0
    assert policy.decide(scores).decision.tolist() == [1]
    with pytest.raises(PolicyError, match="experimental"):
        Policy.from_manifest(load_bundle(models).manifest, {"thresholds": {"atrocity_denial": {"block": 0.9}}})


@pytest.mark.parametrize(
    "overrides",
    [
        {"disabled_labels": ["nope"]},
        {"thresholds": {"insult": {"review": 1.5}}},
        {"thresholds": {"insult": {"review": 0.95, "block": 0.5}}},
        {"thresholds": {"insult": {"reveiw": 0.5}}},
        {"surprise": 1},
    ],
)
def test_inconsistent_policy_is_rejected(models: Path, overrides: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        Policy.from_manifest(load_bundle(models).manifest, overrides)


def test_policy_file_is_applied_by_the_loader(models: Path, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('disabled_labels = ["insult"]\n[thresholds.toxicity]\nreview = 0.2\n')
    model = holder_for(models, policy_path=policy_file).load()
    assert model.policy.rules["insult"].disabled
    assert model.policy.rules["toxicity"].review == 0.2
    policy_file.write_text("this is = not toml [")
    with pytest.raises(ModelRejected, match="policy"):
        holder_for(models, policy_path=policy_file).load()


# --- threads --------------------------------------------------------------------------------------------


def test_thread_validation_reasons() -> None:
    with pytest.raises(ThreadError) as info:
        build_thread(["a", "b", "a"], [None, "a", None])
    assert info.value.code == "duplicate_id"
    with pytest.raises(ThreadError) as info:
        build_thread(["a", "b"], [None, "zzz"])
    assert info.value.code == "unknown_parent" and "zzz" in info.value.message
    with pytest.raises(ThreadError) as info:
        build_thread(["r", "x", "y", "z"], [None, "z", "x", "y"])
    assert info.value.code == "cycle" and all(i in info.value.message for i in "xyz")
    with pytest.raises(ThreadError) as info:
        build_thread(["s"], ["s"])
    assert info.value.code == "cycle"


def test_hottest_chain_and_escalation() -> None:
    # a -> b -> c (heating up) and a -> d (calm)
    tree = build_thread(["a", "b", "c", "d"], [None, "a", "b", "a"])
    heat = np.array([0.1, 0.5, 0.9, 0.0])
    chain = hottest_chain(tree, heat)
    assert chain is not None and chain["comment_ids"] == ["a", "b", "c"]
    assert chain["mean_toxicity"] == pytest.approx(0.5)
    rising = escalation(tree, heat)
    assert rising["rising"] is True and rising["reply_pairs"] == 3
    calming = escalation(tree, np.array([0.9, 0.5, 0.1, 0.2]))
    assert calming["rising"] is False
    assert hottest_chain(build_thread(["solo"], [None]), np.array([0.7])) is None


def test_deep_chain_needs_no_recursion() -> None:
    n = 10_000
    ids = [f"c{i}" for i in range(n)]
    tree = build_thread(ids, [None, *ids[:-1]])
    assert int(tree.depth.max()) == n - 1
    chain = hottest_chain(tree, np.linspace(0, 1, n))
    assert chain is not None and chain["length"] == n


# --- model holder and core ------------------------------------------------------------------------------


def test_holder_requires_a_model_and_rejects_broken_bundles(models: Path, tmp_path: Path) -> None:
    holder = holder_for(models)
    with pytest.raises(ModelNotReady):
        holder.require()
    holder.load()
    broken = tmp_path / "broken"
    build_bundle(broken, "broken", output_columns=len(LABELS) - 1)  # wrong output width: fails the probe
    with pytest.raises(ModelRejected, match="probe"):
        holder.load(broken)
    corrupt = tmp_path / "corrupt"
    build_bundle(corrupt, "corrupt")
    corrupt_onnx(corrupt)
    with pytest.raises(ModelRejected, match="sha256"):
        holder.load(corrupt)
    assert holder.require().version == "1"


def test_in_flight_reference_keeps_the_old_model(models: Path) -> None:
    holder = holder_for(models)
    core = ModerationCore(holder)
    old = holder.load()
    set_current(models, "2")
    holder.load()
    before = core.moderate([ModerationItem("x", "you idiot")], model=old)
    after = core.moderate([ModerationItem("x", "you idiot")])
    assert (before.model.version, after.model.version) == ("1", "2")
    assert after.scores[0, LABELS.index("insult")] > before.scores[0, LABELS.index("insult")]


def test_core_limits_and_labels(models: Path) -> None:
    holder = holder_for(models)
    holder.load()
    core = ModerationCore(holder, limits=Limits(max_items=2))
    with pytest.raises(InvalidInput, match="limit is 2"):
        core.moderate([ModerationItem(str(i), "hi") for i in range(3)])
    with pytest.raises(InvalidInput) as info:
        core.moderate([ModerationItem("a", "hi")], labels=["insult", "bogus"])
    assert info.value.code == "unknown_label"
    with pytest.raises(InvalidInput) as info:
        core.moderate([ModerationItem("a", "hi"), ModerationItem("a", "ho")])
    assert info.value.code == "duplicate_id"
    outcome = core.moderate([ModerationItem("a", "you stupid idiot")], labels=["insult"])
    assert outcome.labels == ("insult",) and outcome.decision(0) == "block"


def test_failing_review_sink_does_not_fail_moderation(models: Path) -> None:
    class ExplodingSink:
        def submit(self, items: object) -> None:
            raise RuntimeError("queue down")

    holder = holder_for(models)
    holder.load()
    outcome = ModerationCore(holder, sink=ExplodingSink()).moderate([ModerationItem("a", "you idiot moron")])
    assert outcome.decision(0) == "block"


def test_default_explainer_degrades_for_non_ngram_bundles(models: Path) -> None:
    explainer = ngram_explainer(load_bundle(models))
    assert isinstance(explainer, UnavailableExplainer)
    assert explainer.reason and explainer.explain("you idiot", ["insult"], top_k=3) == []


def test_sanitize_spans_drops_out_of_range_spans() -> None:
    class Raw:
        def __init__(self, label: str, begin: int, end: int, weight: float) -> None:
            self.label, self.begin, self.end, self.weight = label, begin, end, weight

    raw = [
        Raw("insult", 0, 3, 1.0),
        Raw("insult", 2, 99, 1.0),
        Raw("other", 0, 1, 1.0),
        Raw("insult", 3, 3, 1.0),
        Raw("insult", 0, 1, float("nan")),
    ]
    assert [(s.begin, s.end) for s in sanitize_spans(raw, "abcdef", ["insult"])] == [(0, 3)]


# --- reload channel -------------------------------------------------------------------------------------


def test_reload_channel_propagates_between_coordinators(models: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ReloadCoordinator(holder_for(models), ReloadChannel(state))
    second = ReloadCoordinator(holder_for(models), ReloadChannel(state))
    first.startup()
    second.startup()
    assert second.poll() is None  # nothing published yet
    first.reload(models / "2", origin="test")
    assert first.holder.require().version == "2"
    applied = second.poll()
    assert applied is not None and applied.version == "2"
    assert second.applied_generation == first.applied_generation == 1
    # a late starter joins at the published bundle, not the configured one
    late = ReloadCoordinator(holder_for(models), ReloadChannel(state))
    assert late.startup().version == "2"
    # a broken bundle is rejected locally and never published
    broken = tmp_path / "broken"
    build_bundle(broken, "broken", output_columns=2)
    with pytest.raises(ModelRejected):
        first.reload(broken, origin="test")
    assert second.poll() is None and second.holder.require().version == "2"
