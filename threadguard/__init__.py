"""threadguard: a self-hosted moderation classifier service for comment threads.

Packages: ``threadguard`` (shared kernel: bundle format, text featurizer, CLI), ``training`` (offline trainer
and ONNX export) and ``service`` (the FastAPI moderation service).
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("threadguard")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit of the working tree when there is one (``0.1.0+g1a2b3c4``)."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__
