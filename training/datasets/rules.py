"""Turn a source's label rules (pandas boolean expressions) into float label columns: 1.0 / 0.0 / NaN."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from training.config import ConfigError

if TYPE_CHECKING:
    from training.config import LabelRule, SourceConfig


def evaluate_rule(frame: pd.DataFrame, expr: str, *, where: str) -> np.ndarray:
    """Evaluate one boolean expression over ``frame``; ``where`` names it in errors (source, label, side)."""
    try:
        result = frame.eval(expr, engine="python")
    except Exception as exc:  # pandas raises many types here (NameError, TypeError, ValueError, ...)
        raise ConfigError(
            f"{where}: cannot evaluate {expr!r}: {type(exc).__name__}: {exc}. "
            f"The loader returned columns {list(frame.columns)}"
        ) from exc
    if isinstance(result, (bool, np.bool_)):
        return np.full(len(frame), bool(result))
    if not isinstance(result, pd.Series) or len(result) != len(frame):
        raise ConfigError(f"{where}: {expr!r} must give one boolean per row, got {type(result).__name__}")
    if result.dtype == bool:
        return result.to_numpy()
    if result.dtype == "boolean" or result.dtype == object:
        values = result.to_numpy(dtype=object)
        if all(value is pd.NA or value is None or isinstance(value, (bool, np.bool_)) for value in values):
            return np.array([value is True or value is np.True_ for value in values], dtype=bool)
    raise ConfigError(f"{where}: {expr!r} must be a boolean expression, it gave dtype {result.dtype}")


def rule_column(frame: pd.DataFrame, rule: LabelRule, *, source: str, label: str) -> np.ndarray:
    """One label's column: 1.0 where ``positive`` holds, 0.0 where ``negative`` holds, NaN otherwise."""
    where = f"source {source!r}, label {label!r}"
    positive = (
        evaluate_rule(frame, rule.positive, where=f"{where}, positive")
        if rule.positive
        else np.zeros(len(frame), dtype=bool)
    )
    negative = (
        evaluate_rule(frame, rule.negative, where=f"{where}, negative")
        if rule.negative
        else np.zeros(len(frame), dtype=bool)
    )
    both = positive & negative
    if both.any():
        sample = frame.loc[both].head(3)
        preview = "; ".join(repr(str(text)[:60]) for text in sample.get("text", pd.Series(dtype=str)))
        raise ConfigError(
            f"{where}: {int(both.sum())} row(s) match both the positive rule {rule.positive!r} and the "
            f"negative rule {rule.negative!r} (e.g. {preview})"
        )
    column = np.full(len(frame), np.nan)
    column[positive] = 1.0
    column[negative] = 0.0
    return column


def apply_rules(frame: pd.DataFrame, source: SourceConfig, labels: Sequence[str]) -> pd.DataFrame:
    """A frame (same index) with one float column per model label; labels without a rule are all NaN."""
    columns = {}
    for label in labels:
        rule = source.labels.get(label)
        columns[label] = (
            np.full(len(frame), np.nan)
            if rule is None
            else rule_column(frame, rule, source=source.name, label=label)
        )
    return pd.DataFrame(columns, index=frame.index, dtype=float)
