"""Loading models and swapping them atomically.

:class:`ModelLoader` turns a bundle directory into a :class:`LoadedModel` (verified bundle, onnxruntime
session, policy, explainer) and refuses it unless it scores a set of probe texts sanely. :class:`ModelHolder`
keeps the one being served. A swap is a single reference assignment: a request reads ``holder.current``
once and keeps that object to the end, so requests in flight finish on the old model while new requests get
the new one, and the old session is freed when its last request drops it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.core.errors import ModelNotReady, ModelRejected, PolicyError
from service.core.explain import Explainer, ExplainerFactory, ngram_explainer
from service.core.policy import Policy, read_policy_file
from service.core.scoring import Scorer, create_session
from threadguard.bundle import BundleError, ModelBundle, load_bundle, utc_now_iso

logger = logging.getLogger(__name__)

# A model must score these without error, with the right shape and probabilities in [0, 1].
PROBE_TEXTS: tuple[str, ...] = (
    "",
    "thanks for the thoughtful reporting",
    "you are a stupid idiot",
    "Ça va? Привет, мир! 👋🏽 ｆｕｌｌｗｉｄｔｈ ﬁ ẞ e\u0301 \u200b",
    "long " * 400,
)


@dataclass(frozen=True)
class LoadedModel:
    """Everything needed to moderate with one bundle. Immutable: reloads build a new one."""

    bundle: ModelBundle
    scorer: Scorer
    policy: Policy
    explainer: Explainer
    loaded_at: str
    sequence: int
    label_index: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.scorer.labels

    def info(self) -> dict[str, Any]:
        """Public description for ``GET /v1/models``."""
        manifest = self.bundle.manifest
        return {
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "label_info": {
                label: {
                    "description": manifest.label_info[label].description if label in manifest.label_info else "",
                    "experimental": manifest.is_experimental(label),
                }
                for label in self.labels
            },
            "languages": list(manifest.languages),
            "created_at": manifest.created_at,
            "loaded_at": self.loaded_at,
            "explanations_available": self.explainer.available,
            "explanations_unavailable_reason": self.explainer.reason,
        }


class ModelLoader:
    """Builds :class:`LoadedModel` objects; every failure becomes :class:`ModelRejected` with the reason."""

    def __init__(
        self,
        model_path: Path | None,
        *,
        policy_path: Path | None = None,
        intra_op_threads: int = 1,
        max_batch_chars: int = 1 << 19,
        explainer_factory: ExplainerFactory = ngram_explainer,
    ) -> None:
        self.model_path = model_path
        self.policy_path = policy_path
        self._intra_op_threads = intra_op_threads
        self._max_batch_chars = max_batch_chars
        self._explainer_factory = explainer_factory
        self._sequence = 0
        self._lock = threading.Lock()

    def load(self, bundle_dir: str | os.PathLike[str] | None = None) -> LoadedModel:
        """Load ``bundle_dir`` (default: the configured model, re-resolving its ``current`` pointer)."""
        target = bundle_dir if bundle_dir is not None else self.model_path
        try:
            bundle = load_bundle(target)
        except BundleError as exc:
            raise ModelRejected(f"bundle rejected: {exc}") from exc
        try:
            session = create_session(bundle.onnx_path, intra_op_threads=self._intra_op_threads)
            scorer = Scorer(session, bundle.labels, max_batch_chars=self._max_batch_chars)
        except Exception as exc:
            raise ModelRejected(f"bundle {bundle.path} rejected: onnxruntime cannot load it: {exc}") from exc
        probe(scorer)
        policy = self._policy(bundle)
        explainer = self._explainer_factory(bundle)
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        return LoadedModel(
            bundle=bundle,
            scorer=scorer,
            policy=policy,
            explainer=explainer,
            loaded_at=utc_now_iso(),
            sequence=sequence,
            label_index={label: i for i, label in enumerate(bundle.labels)},
        )

    def _policy(self, bundle: ModelBundle) -> Policy:
        try:
            overrides = read_policy_file(self.policy_path) if self.policy_path is not None else None
            source = str(self.policy_path) if self.policy_path is not None else None
            return Policy.from_manifest(bundle.manifest, overrides, source=source)
        except PolicyError as exc:
            raise ModelRejected(f"policy rejected for {bundle.name} {bundle.version}: {exc}") from exc


def probe(scorer: Scorer) -> None:
    """Score :data:`PROBE_TEXTS`; :class:`ModelRejected` unless every score is a probability."""
    try:
        scores = scorer.score(list(PROBE_TEXTS))
    except Exception as exc:
        raise ModelRejected(f"model failed its probe texts: {exc}") from exc
    if not np.all(np.isfinite(scores)) or scores.min(initial=0.0) < 0.0 or scores.max(initial=0.0) > 1.0:
        raise ModelRejected("model failed its probe texts: scores are not probabilities in [0, 1]")


SwapListener = Callable[[LoadedModel | None, LoadedModel], None]


class ModelHolder:
    """The model being served, swapped atomically. Loads are serialised; reads take no lock."""

    def __init__(self, loader: ModelLoader) -> None:
        self.loader = loader
        self._current: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._listeners: list[SwapListener] = []

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def require(self) -> LoadedModel:
        """The current model, or :class:`ModelNotReady`. Call once per request and keep the result."""
        model = self._current
        if model is None:
            raise ModelNotReady("no model is loaded yet")
        return model

    def add_listener(self, listener: SwapListener) -> None:
        self._listeners.append(listener)

    def load(self, bundle_dir: str | os.PathLike[str] | None = None) -> LoadedModel:
        """Load and validate, then swap. On failure the old model keeps serving; raises ModelRejected."""
        with self._load_lock:
            new = self.loader.load(bundle_dir)
            old, self._current = self._current, new
        logger.info(
            "model loaded",
            extra={"model_name": new.name, "model_version": new.version, "bundle": str(new.bundle.path)},
        )
        for listener in self._listeners:
            try:
                listener(old, new)
            except Exception:
                logger.exception("model swap listener failed")
        return new
