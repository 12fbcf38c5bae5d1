"""Where the shared public datasets live for the narrative loader tests (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """``$THREADGUARD_DATA_ROOT`` or ``../shared/data`` next to the repository."""
    env = os.environ.get("THREADGUARD_DATA_ROOT", "").strip()
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared" / "data").resolve()


def require(*relative: str) -> Path:
    """The data root, or skip the test when one of the files is missing."""
    root = data_root()
    missing = [item for item in relative if not (root / item).is_file()]
    if missing:
        pytest.skip(f"shared data not available under {root}: {missing}")
    return root
