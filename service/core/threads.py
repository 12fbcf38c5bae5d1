"""Thread analysis as pure functions: build and validate a reply tree, then summarise scores over it.

Everything is iterative (no recursion), so a chain of 10,000 replies costs the same as a flat thread.
"Heat" is the per-comment toxicity used for chains: the ``toxicity`` score when the model has that label,
otherwise the comment's highest label score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.core.errors import InvalidInput
from service.core.policy import DECISIONS

HEAT_LABEL = "toxicity"
RISE_THRESHOLD = 0.05  # mean (reply - parent) heat above which a thread counts as escalating
MAX_LISTED_IDS = 20  # ids quoted in an error message


class ThreadError(InvalidInput):
    """The comments do not form a thread (duplicate ids, unknown parents, cycles)."""

    code = "thread_invalid"


@dataclass(frozen=True)
class ThreadTree:
    """A validated forest of replies; indices refer to the request order of the comments."""

    ids: tuple[str, ...]
    parent: np.ndarray  # int64 [n], -1 for top-level comments
    depth: np.ndarray  # int64 [n], 0 for top-level comments
    order: np.ndarray  # int64 [n], parents before children (breadth first)
    n_children: np.ndarray  # int64 [n]


def build_thread(ids: Sequence[str], parent_ids: Sequence[str | None]) -> ThreadTree:
    """Validate and index a thread; :class:`ThreadError` names the offending ids."""
    n = len(ids)
    index: dict[str, int] = {}
    duplicates: list[str] = []
    for i, comment_id in enumerate(ids):
        if comment_id in index:
            duplicates.append(comment_id)
        else:
            index[comment_id] = i
    if duplicates:
        raise ThreadError(f"duplicate comment ids: {_quote(sorted(set(duplicates)))}", code="duplicate_id")
    parent = np.full(n, -1, dtype=np.int64)
    unknown: list[str] = []
    for i, parent_id in enumerate(parent_ids):
        if parent_id is None:
            continue
        j = index.get(parent_id)
        if j is None:
            unknown.append(f"{ids[i]} -> {parent_id}")
        else:
            parent[i] = j
    if unknown:
        raise ThreadError(f"comments reply to unknown parents: {_quote(unknown)}", code="unknown_parent")

    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] >= 0:
            children[parent[i]].append(i)
    depth = np.zeros(n, dtype=np.int64)
    order: list[int] = [i for i in range(n) if parent[i] < 0]
    head = 0
    while head < len(order):
        node = order[head]
        head += 1
        for child in children[node]:
            depth[child] = depth[node] + 1
            order.append(child)
    if len(order) < n:
        raise ThreadError(f"reply cycle: {_quote(_find_cycle(parent, order, ids))}", code="cycle")
    return ThreadTree(
        ids=tuple(ids),
        parent=parent,
        depth=depth,
        order=np.asarray(order, dtype=np.int64),
        n_children=np.fromiter((len(c) for c in children), dtype=np.int64, count=n),
    )


def _find_cycle(parent: np.ndarray, reached: list[int], ids: Sequence[str]) -> list[str]:
    """Ids on one cycle, starting from any comment not reachable from a top-level comment."""
    seen_reached = set(reached)
    node = next(i for i in range(len(parent)) if i not in seen_reached)
    position: dict[int, int] = {}
    path: list[int] = []
    while node not in position:  # every unreached comment leads into a cycle by following parents
        position[node] = len(path)
        path.append(node)
        node = int(parent[node])
    cycle = path[position[node] :]
    return [ids[i] for i in cycle] + [ids[cycle[0]]]


def _quote(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED_IDS])
    return shown + (f" (and {len(items) - MAX_LISTED_IDS} more)" if len(items) > MAX_LISTED_IDS else "")


def heat(scores: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Per-comment toxicity: the ``toxicity`` column, else the row maximum."""
    if len(scores) == 0 or not labels:
        return np.zeros(len(scores), dtype=np.float64)
    if HEAT_LABEL in labels:
        return scores[:, list(labels).index(HEAT_LABEL)].astype(np.float64)
    return scores.max(axis=1).astype(np.float64)


def hottest_chain(tree: ThreadTree, heat_values: np.ndarray) -> dict[str, Any] | None:
    """The top-level-to-leaf reply chain (two comments or more) with the highest mean heat."""
    n = len(tree.ids)
    total = np.zeros(n, dtype=np.float64)
    length = np.zeros(n, dtype=np.int64)
    for node in tree.order.tolist():
        p = tree.parent[node]
        total[node] = heat_values[node] + (total[p] if p >= 0 else 0.0)
        length[node] = 1 + (length[p] if p >= 0 else 0)
    leaves = np.flatnonzero((tree.n_children == 0) & (length >= 2))
    if leaves.size == 0:
        return None
    means = total[leaves] / length[leaves]
    best = int(leaves[int(np.argmax(means))])  # first maximum: ties go to the earlier leaf
    path: list[int] = []
    node = best
    while node >= 0:
        path.append(node)
        node = int(tree.parent[node])
    path.reverse()
    return {
        "comment_ids": [tree.ids[i] for i in path],
        "length": len(path),
        "mean_toxicity": float(total[best] / length[best]),
        "max_toxicity": float(heat_values[path].max()),
    }


def escalation(tree: ThreadTree, heat_values: np.ndarray, *, threshold: float = RISE_THRESHOLD) -> dict[str, Any]:
    """Whether toxicity rises along replies: mean (reply - parent) heat and depth correlation."""
    replies = np.flatnonzero(tree.parent >= 0)
    if replies.size == 0:
        return {
            "rising": False,
            "reply_pairs": 0,
            "mean_delta": None,
            "depth_correlation": None,
            "threshold": threshold,
        }
    deltas = heat_values[replies] - heat_values[tree.parent[replies]]
    mean_delta = float(deltas.mean())
    correlation: float | None = None
    if np.ptp(tree.depth) > 0 and np.ptp(heat_values) > 0:
        correlation = float(np.corrcoef(tree.depth.astype(np.float64), heat_values)[0, 1])
    return {
        "rising": mean_delta > threshold,
        "reply_pairs": int(replies.size),
        "mean_delta": mean_delta,
        "depth_correlation": correlation,
        "threshold": threshold,
    }


def decision_counts(labels: Sequence[str], levels: np.ndarray, decision: np.ndarray) -> dict[str, Any]:
    """Counts of overall decisions and, per label, of that label's own decision level."""
    overall = Counter(decision.tolist())
    per_label = {
        label: {name: int(np.count_nonzero(levels[:, j] == level)) for level, name in enumerate(DECISIONS)}
        for j, label in enumerate(labels)
    }
    return {
        "decisions": {name: int(overall.get(level, 0)) for level, name in enumerate(DECISIONS)},
        "labels": per_label,
    }
