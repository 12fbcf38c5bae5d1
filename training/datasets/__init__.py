"""Dataset loaders, resolved by name: loader ``X`` is the module ``training.datasets.X``.

A loader module exposes ``load(source: SourceConfig, data_root: Path) -> pandas.DataFrame``. The frame has a
``text`` column (raw, uncleaned: the corpus applies :mod:`training.datasets.cleaning` to every source) plus
the columns that the source's label rules in the config refer to. Adding a loader is adding a module here; the
config names it, nothing else needs registering. This module stays import-light (no pandas) because the config
validator calls :func:`loader_exists` for every source.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from training.config import SourceConfig

    Loader = Callable[[SourceConfig, Path], pd.DataFrame]
else:
    Loader = Callable[..., Any]

# Modules of this package that are helpers, never loaders.
_NOT_LOADERS = frozenset({"cleaning", "rules"})


class LoaderError(Exception):
    """A loader is unknown, or a source's files are not in the format its loader expects."""


def _module_name(name: str) -> str:
    return f"{__name__}.{name}"


def loader_exists(name: str) -> bool:
    """Whether ``training.datasets.<name>`` exists as a loader module (checked without importing it)."""
    if not name.isidentifier() or name.startswith("_") or name in _NOT_LOADERS:
        return False
    try:
        return importlib.util.find_spec(_module_name(name)) is not None
    except (ImportError, ValueError):
        return False


def get_loader(name: str) -> Loader:
    """Import loader ``name`` and return its ``load`` function."""
    if not loader_exists(name):
        raise LoaderError(f"unknown loader {name!r}; available: {', '.join(available_loaders())}")
    module = importlib.import_module(_module_name(name))
    load = getattr(module, "load", None)
    if not callable(load):
        raise LoaderError(f"module {module.__name__} has no load(source, data_root) function")
    return load


def available_loaders() -> list[str]:
    """Names of every loader module in this package (including ones other engineers add)."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.ispkg and not info.name.startswith("_") and info.name not in _NOT_LOADERS
    )
