"""Experimental narrative labels (issue 7): ``atrocity_denial`` and ``conspiracy``.

Annotation guidelines live in ``docs/narratives/guidelines.md``. This package holds the weak-supervision
labeling functions, the hand-written development set and minimal pairs (``data/``) and the evaluation used for
the model card.
"""

from __future__ import annotations

from pathlib import Path

NARRATIVE_LABELS: tuple[str, ...] = ("atrocity_denial", "conspiracy")
DATA_DIR = Path(__file__).resolve().parent / "data"
DEV_SET_PATH = DATA_DIR / "dev.jsonl"
MINIMAL_PAIRS_PATH = DATA_DIR / "minimal_pairs.jsonl"

__all__ = ["DATA_DIR", "DEV_SET_PATH", "MINIMAL_PAIRS_PATH", "NARRATIVE_LABELS"]
