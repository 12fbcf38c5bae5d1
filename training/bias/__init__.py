"""Bias check: identity-term templates (``templates.toml``) and Borkan et al. 2019 metrics over them."""

from __future__ import annotations

from training.bias.metrics import AUC_METRICS, bias_report, power_mean, summarize, term_metrics
from training.bias.templates import DEFAULT_TEMPLATES_PATH, TemplateError, TemplateSet, load_templates

__all__ = [
    "AUC_METRICS",
    "DEFAULT_TEMPLATES_PATH",
    "TemplateError",
    "TemplateSet",
    "bias_report",
    "load_templates",
    "power_mean",
    "summarize",
    "term_metrics",
]
