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


SMALL_BATCH = 16
"""Batches of up to this many items are decided in plain Python: on ``1 x L`` arrays numpy's per-call overhead
costs more than the comparisons themselves (docs/performance.md, "Request-specific Python")."""


class Decisions:
    """Per-item outcome of applying a policy to a score matrix.

    Built either from a numpy ``levels`` matrix (large batches) or from Python lists (small batches, the hot
    path); every other view is derived on first use and cached, so consumers read whichever suits them and
    pay for no conversion they do not need.
    """

    def __init__(
        self,
        *,
        n_labels: int,
        levels: np.ndarray | None = None,
        level_rows: list[list[int]] | None = None,
        decision_list: list[int] | None = None,
    ) -> None:
        if levels is None and (level_rows is None or decision_list is None):
            raise ValueError("Decisions need levels, or level_rows together with decision_list")
        self._n_labels = n_labels
        self._levels = levels
        self._level_rows = level_rows
        self._decision_list = decision_list
        self._decision: np.ndarray | None = None
        self._triggered: np.ndarray | None = None

    @property
    def levels(self) -> np.ndarray:
        """int8 ``[N, L]``: per-label decision level (0 allow, 1 review, 2 block)."""
        if self._levels is None:
            rows = self.level_rows
            self._levels = np.array(rows, dtype=np.int8).reshape(len(rows), self._n_labels)
        return self._levels

    @property
    def decision(self) -> np.ndarray:
        """int8 ``[N]``: overall level, the maximum over labels (allow when there are no labels)."""
        if self._decision is None:
            if self._decision_list is not None:
                self._decision = np.array(self._decision_list, dtype=np.int8)
            else:
                levels = self.levels
                self._decision = levels.max(axis=1) if levels.shape[1] else np.zeros(len(levels), dtype=np.int8)
        return self._decision

    @property
    def triggered(self) -> np.ndarray:
        """bool ``[N, L]``: labels at the overall level (and above allow)."""
        if self._triggered is None:
            decision = self.decision[:, None]
            self._triggered = (self.levels == decision) & (decision > 0)
        return self._triggered

    @property
    def level_rows(self) -> list[list[int]]:
        """``levels`` as one list of ints per item."""
        if self._level_rows is None:
            self._level_rows = self.levels.tolist()
        return self._level_rows

    @property
    def decision_list(self) -> list[int]:
        """``decision`` as a list of ints."""
        if self._decision_list is None:
            self._decision_list = self.decision.tolist()
        return self._decision_list

    def triggered_columns(self, i: int) -> list[int]:
        """The columns set in item ``i``'s ``triggered`` row (none when the item is allowed)."""
        level = self.decision_list[i]
        if not level:
            return []
        return [j for j, label_level in enumerate(self.level_rows[i]) if label_level == level]


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
        # the same thresholds as Python floats (the float32 values, exactly) for small batches
        self._review_list: list[float] = self._review.tolist()
        self._block_list: list[float] = self._block.tolist()

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
        """Decisions for ``scores[N, k]`` whose columns are the model labels at ``label_index`` (None: all)."""
        if len(scores) <= SMALL_BATCH:
            return self._decide_small(scores.tolist(), label_index)
        review = self._review if label_index is None else self._review[label_index]
        block = self._block if label_index is None else self._block[label_index]
        levels = (scores >= review).astype(np.int8) + (scores >= block).astype(np.int8)
        return Decisions(n_labels=scores.shape[1], levels=levels)

    def _decide_small(self, rows: list[list[float]], label_index: np.ndarray | None) -> Decisions:
        """:meth:`decide` in plain Python over ``scores.tolist()``.

        Exact: float32 scores and thresholds convert to Python floats without rounding, so every comparison
        gives what numpy's float32 comparison gives (``inf`` thresholds included).
        """
        review, block = self._review_list, self._block_list
        if label_index is not None:
            columns = label_index.tolist()
            review = [review[j] for j in columns]
            block = [block[j] for j in columns]
        thresholds = list(zip(review, block, strict=True))
        level_rows = [
            [(score >= r) + (score >= b) for score, (r, b) in zip(row, thresholds, strict=True)] for row in rows
        ]
        decision_list = [max(levels, default=ALLOW) for levels in level_rows]
        return Decisions(n_labels=len(thresholds), level_rows=level_rows, decision_list=decision_list)

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
