"""The report's PNG figures (matplotlib, Agg backend: no display needed).

Per label: ROC and precision-recall curves of the candidate and the baseline with their operating points.
For all labels: overview grids of the same curves, a calibration reliability diagram and score histograms
(positives against negatives) for each model. Files are written with fixed metadata so the same numbers give
the same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from training.report.evaluation import BundleEvaluation, EvaluationData

CANDIDATE_COLOR = "#1f6fb4"
BASELINE_COLOR = "#8a8a8a"
POSITIVE_COLOR = "#c0392b"
NEGATIVE_COLOR = "#2e86c1"
DPI = 100
PNG_METADATA = {"Software": None}


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _pyplot():
    try:
        import matplotlib
    except ModuleNotFoundError as exc:  # an optional dependency: the gate itself never needs it
        raise PlotsUnavailable("the report's figures need matplotlib: pip install 'threadguard[report]' "
                               "(or pass --no-plots)") from exc

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: Path) -> str:
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    _pyplot().close(fig)
    return path.name


Model = tuple[str, "BundleEvaluation", str, bool]  # name, evaluation, colour, is the candidate


def _models(candidate: BundleEvaluation, baseline: BundleEvaluation | None) -> list[Model]:
    """Baseline first, so the candidate is drawn on top of it."""
    models: list[Model] = []
    if baseline is not None:
        models.append((f"baseline {baseline.bundle.version}", baseline, BASELINE_COLOR, False))
    models.append((f"candidate {candidate.bundle.version}", candidate, CANDIDATE_COLOR, True))
    return models


def _style(is_candidate: bool) -> dict[str, Any]:
    return {"linewidth": 1.6, "linestyle": "-"} if is_candidate else {"linewidth": 1.3, "linestyle": "--"}


def _has_both_classes(y: np.ndarray) -> bool:
    return y.size > 0 and 0 < int(y.sum()) < y.size


def _roc_axes(ax: Axes, label: str, data: EvaluationData, models: list[Model]) -> None:
    ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=0.8, linestyle=":")
    for name, ev, color, is_candidate in models:
        if label not in ev.labels:
            continue
        y, s = ev.known(data, label)
        if not _has_both_classes(y):
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, color=color, **_style(is_candidate), label=f"{name} AUC {roc_auc_score(y, s):.3f}")
        review = ev.bundle.manifest.thresholds[label].review
        flagged = s >= review
        ax.plot([flagged[y == 0].mean()], [flagged[y == 1].mean()], marker="o", color=color, markersize=5)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate", ylabel="true-positive rate", title=label)
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.grid(alpha=0.25)


def _pr_axes(ax: Axes, label: str, data: EvaluationData, models: list[Model]) -> None:
    base_rate = None
    for name, ev, color, is_candidate in models:
        if label not in ev.labels:
            continue
        y, s = ev.known(data, label)
        if not _has_both_classes(y):
            continue
        base_rate = float(y.mean())
        precision, recall, _ = precision_recall_curve(y, s)
        ax.plot(recall, precision, color=color, **_style(is_candidate),
                label=f"{name} AP {average_precision_score(y, s):.3f}")
        th = ev.bundle.manifest.thresholds[label]
        for threshold, marker in ((th.review, "o"), (th.block, "s")):
            if threshold is None:
                continue
            flagged = s >= threshold
            if flagged.any():
                ax.plot([flagged[y == 1].mean()], [y[flagged].mean()], marker=marker, color=color, markersize=5)
    if base_rate is not None:
        ax.axhline(base_rate, color="#cccccc", linewidth=0.8, linestyle=":")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision", title=label)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    ax.grid(alpha=0.25)


def _calibration_axes(ax: Axes, label: str, models: list[Model]) -> None:
    ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=0.8, linestyle=":")
    for name, ev, color, is_candidate in models:
        calibration = ev.calibration.get(label)
        if not calibration:
            continue
        points = [(b["mean_score"], b["positive_rate"]) for b in calibration["bins"] if b["n"] > 0]
        if not points:
            continue
        xs, ys = (np.array(v, dtype=float) for v in zip(*points, strict=True))
        ax.plot(xs, ys, color=color, marker="o", markersize=3, **_style(is_candidate),
                label=f"{name} ECE {calibration['ece']:.3f}")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="mean predicted score", ylabel="observed positive rate",
           title=label)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.grid(alpha=0.25)


def _histogram_axes(ax: Axes, label: str, data: EvaluationData, name: str, ev: BundleEvaluation) -> None:
    if label not in ev.labels:
        ax.set_axis_off()
        return
    y, s = ev.known(data, label)
    bins = [i / 40 for i in range(41)]
    for cls, color, text in ((0, NEGATIVE_COLOR, "negatives"), (1, POSITIVE_COLOR, "positives")):
        values = s[y == cls]
        if values.size:
            ax.hist(values, bins=bins, density=True, alpha=0.55, color=color, label=f"{text} (n={values.size:,})")
    th = ev.bundle.manifest.thresholds[label]
    ax.axvline(th.review, color="#555555", linewidth=0.9, linestyle="--", label=f"review {th.review:.2f}")
    if th.block is not None:
        ax.axvline(th.block, color="#000000", linewidth=0.9, linestyle="-", label=f"block {th.block:.2f}")
    ax.set(xlim=(0, 1), xlabel="score", ylabel="density", title=f"{label}: {name}")
    ax.title.set_fontsize(10)
    ax.legend(loc="best", fontsize=6, frameon=True, framealpha=0.8)


def _grid(plt: Any, n: int, columns: int = 3, size: tuple[float, float] = (3.6, 3.3)) -> tuple[Figure, list[Axes]]:
    rows = max(1, math.ceil(n / columns))
    columns = min(columns, max(n, 1))
    fig, axes = plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_axis_off()
    return fig, flat


def write_plots(out_dir: Path, data: EvaluationData, candidate: BundleEvaluation,
                baseline: BundleEvaluation | None) -> dict[str, Any]:
    """Write every figure into ``out_dir``; returns {"roc": {label: file}, "pr": {...}, "overview": {...}}."""
    plt = _pyplot()
    models = _models(candidate, baseline)
    labels = [label for label in candidate.labels if label in candidate.calibration]
    figures: dict[str, Any] = {"roc": {}, "pr": {}, "overview": {}}
    for label in labels:
        for kind, draw in (("roc", _roc_axes), ("pr", _pr_axes)):
            fig, ax = plt.subplots(figsize=(4.6, 4.2))
            draw(ax, label, data, models)
            fig.tight_layout()
            figures[kind][label] = _save(fig, out_dir / f"{kind}_{label}.png")
    if not labels:
        return figures
    for kind, draw, title in (("roc", _roc_axes, "ROC curves"), ("pr", _pr_axes, "Precision-recall curves")):
        fig, axes = _grid(plt, len(labels))
        for ax, label in zip(axes, labels, strict=False):
            draw(ax, label, data, models)
        fig.suptitle(f"{title} on {data.split} ({len(data.frame):,} rows); dots: review threshold"
                     + ("; squares: block" if kind == "pr" else ""), fontsize=10)
        fig.tight_layout()
        figures["overview"][kind] = _save(fig, out_dir / f"{kind}.png")
    fig, axes = _grid(plt, len(labels))
    for ax, label in zip(axes, labels, strict=False):
        _calibration_axes(ax, label, models)
    fig.suptitle("Calibration reliability diagram (10 equal-width bins)", fontsize=10)
    fig.tight_layout()
    figures["overview"]["calibration"] = _save(fig, out_dir / "calibration.png")
    fig, axes_grid = plt.subplots(len(labels), len(models), figsize=(4.2 * len(models), 2.6 * len(labels)),
                                  squeeze=False)
    for row, label in enumerate(labels):
        for col, (name, ev, _color, _is_candidate) in enumerate(models):
            _histogram_axes(axes_grid[row][col], label, data, name, ev)
    fig.suptitle("Score histograms: positives vs negatives; dashed: review threshold, solid: block", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    figures["overview"]["histograms"] = _save(fig, out_dir / "histograms.png")
    return figures
