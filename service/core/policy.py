"""Decision policy: per-label review/block thresholds from the manifest, overridable by a TOML file.

Policy file (all keys optional)::

    disabled_labels = ["profanity"]      # scored and reported, never trigger a decision

    [thresholds.insult]
    review = 0.6                         # review at or above
    block = 0.95                         # block at or above; omit to keep the manifest's

Labels marked ``experimental`` in the manifest may send an item to review but never block it; a policy
that tries to give one a block threshold is rejected rather than silently ignored.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.core.errors import PolicyError
from threadguard.bundle import Manifest

DECISIONS: tuple[str, ...] = ("allow", "review", "block")  # index = severity level
ALLOW, REVIEW, BLOCK = 0, 1, 2


@dataclass(frozen=True)
class LabelRule:
    """How one label decides: thresholds, and where they came from."""

    label: str
    review: float
    block: float | None
    disabled: bool
    experimental: bool
    source: str  # "manifest" | "policy"

    def as_dict(self) -> dict[str, Any]:
        return {
            "review": self.review,
            "block": self.block,
            "disabled": self.disabled,
            "experimental": self.experimental,
            "source": self.source,
        }


@dataclass(frozen=True)
class Decisions:
    """Per-item outcome of applying a policy to a score matrix."""

    levels: np.ndarray  # int8 [N, L]: per-label decision level (0 allow, 1 review, 2 block)
    decision: np.ndarray  # int8 [N]: overall level, the maximum over labels
    triggered: np.ndarray  # bool [N, L]: labels at the overall level (and above allow)


class Policy:
    """Thresholds for every model label, vectorised for batch decisions."""

    def __init__(self, rules: Sequence[LabelRule], *, source: str | None = None) -> None:
        self.rules: dict[str, LabelRule] = {rule.label: rule for rule in rules}
        self.labels: tuple[str, ...] = tuple(rule.label for rule in rules)
        self.source = source
        inf = math.inf
        self._review = np.array([inf if r.disabled else r.review for r in rules], dtype=np.float32)
        self._block = np.array(
            [inf if (r.disabled or r.block is None or r.experimental) else r.block for r in rules],
            dtype=np.float32,
        )

    @classmethod
    def from_manifest(
        cls, manifest: Manifest, overrides: Mapping[str, Any] | None = None, *, source: str | None = None
    ) -> Policy:
        """The manifest's thresholds with an optional parsed policy file on top."""
        overrides = dict(overrides or {})
        unknown_keys = set(overrides) - {"disabled_labels", "thresholds"}
        if unknown_keys:
            raise PolicyError(f"unknown policy keys {sorted(unknown_keys)}; expected disabled_labels, thresholds")
        disabled = overrides.get("disabled_labels", [])
        thresholds = overrides.get("thresholds", {})
        if not isinstance(disabled, list) or not all(isinstance(x, str) for x in disabled):
            raise PolicyError("disabled_labels must be a list of label names")
        if not isinstance(thresholds, dict):
            raise PolicyError("thresholds must be a table of [thresholds.<label>] tables")
        unknown = sorted((set(disabled) | set(thresholds)) - set(manifest.labels))
        if unknown:
            raise PolicyError(f"policy names labels the model does not have: {unknown}")
        rules = [_rule(manifest, label, thresholds.get(label), label in disabled) for label in manifest.labels]
        return cls(rules, source=source)

    def decide(self, scores: np.ndarray, label_index: np.ndarray | None = None) -> Decisions:
        """Decisions for ``scores[N, k]`` whose columns are the model labels at ``label_index``."""
        review = self._review if label_index is None else self._review[label_index]
        block = self._block if label_index is None else self._block[label_index]
        levels = (scores >= review).astype(np.int8) + (scores >= block).astype(np.int8)
        decision = levels.max(axis=1) if levels.shape[1] else np.zeros(len(scores), dtype=np.int8)
        triggered = (levels == decision[:, None]) & (decision[:, None] > 0)
        return Decisions(levels=levels, decision=decision, triggered=triggered)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "labels": {label: r.as_dict() for label, r in self.rules.items()}}


def _rule(manifest: Manifest, label: str, override: Any, disabled: bool) -> LabelRule:
    base = manifest.thresholds[label]
    experimental = manifest.is_experimental(label)
    review, block, source = base.review, base.block, "manifest"
    if override is not None:
        if not isinstance(override, dict) or set(override) - {"review", "block"}:
            raise PolicyError(f"[thresholds.{label}] may only set review and block")
        review = _probability(override.get("review", review), f"thresholds.{label}.review")
        if "block" in override:
            if experimental:
                raise PolicyError(f"{label} is experimental: it may send to review but never block")
            block = _probability(override["block"], f"thresholds.{label}.block")
        source = "policy"
    if experimental:
        block = None
    if block is not None and block < review:
        raise PolicyError(f"{label}: block threshold {block} is below review threshold {review}")
    return LabelRule(label, review, block, disabled, experimental, source)


def _probability(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise PolicyError(f"{where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def read_policy_file(path: Path) -> dict[str, Any]:
    """Parse a TOML policy file; :class:`PolicyError` on any problem."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} does not exist") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc
