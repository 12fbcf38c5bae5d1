"""Evaluation report: a candidate bundle against a baseline on the same rows, as Markdown, HTML, JSON and PNGs.

``threadguard evaluate --candidate DIR --baseline current --report-dir DIR`` and ``threadguard promote
--report-dir DIR`` write it. matplotlib is imported only when figures are drawn.
"""

from __future__ import annotations

from training.report.evaluation import (
    BundleEvaluation,
    EvaluationData,
    evaluate_model,
    load_evaluation_data,
    measure_latencies,
)
from training.report.render import SCHEMA, build_report, write_report

__all__ = [
    "SCHEMA",
    "BundleEvaluation",
    "EvaluationData",
    "build_report",
    "evaluate_model",
    "load_evaluation_data",
    "measure_latencies",
    "write_report",
]
