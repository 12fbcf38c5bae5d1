"""ConvAbuse (Cercas Curry et al. 2021): user messages to chatbots, every annotator's labels side by side.

Each split file has 7 example columns then one block of 17 columns per annotator (``AnnotatorK_is_abuse.1``
... ``AnnotatorK_implicit``). The header misnames two blocks' ``transphobic`` column (``Annotator6_`` three
times), so blocks are read by position and only the field names are checked. A cell may hold an annotator's
repeated annotations ("1, 0"); each repetition counts as an equal share of that annotator's single vote.

Columns returned (fractions are over the example's annotators, each with one vote):
``text`` (the user turn), ``example_id``, ``bot``, ``n_annotators``; ``not_abuse_frac`` (chose 1),
``ambiguous_frac`` (0), ``mild_frac`` (-1), ``strong_frac`` (-2), ``very_strong_frac`` (-3), ``abuse_frac``
(-1/-2/-3); ``severity_mean`` (0 not abusive or ambiguous, 1 mild, 2 strong, 3 very strong, averaged);
``<type>_frac`` for ableist, homophobic, intellectual, racist, sexist, sex_harassment, transphobic;
``identity_frac`` (marked any identity-based type: ableist, homophobic, racist, sexist, transphobic);
``target_<generalised|individual|system>_frac``, ``explicit_frac``, ``implicit_frac``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from training.config import SourceConfig
from training.datasets import LoaderError
from training.datasets._io import read_text, source_files, text_field

EXAMPLE_COLUMNS = ("example_id", "conv_id", "prev_agent", "prev_user", "agent", "user", "bot")
ABUSE_FIELDS = ("is_abuse.1", "is_abuse.0", "is_abuse.-1", "is_abuse.-2", "is_abuse.-3")
TYPE_FIELDS = ("ableist", "homophobic", "intellectual", "racist", "sexist", "sex_harassment", "transphobic")
OTHER_FIELDS = ("target.generalised", "target.individual", "target.system", "explicit", "implicit")
BLOCK_FIELDS = (*ABUSE_FIELDS, *TYPE_FIELDS, *OTHER_FIELDS)
IDENTITY_TYPES = ("ableist", "homophobic", "racist", "sexist", "transphobic")
_ANNOTATOR_PREFIX = re.compile(r"^Annotator\d+_")
_EMOJI_SPAN = re.compile(r"<span class='emoji-bytes' data-emoji-bytes='\[([\d,\s]*)\]'>\s*</span>")


def decode_emoji_spans(text: str) -> str:
    """Replace the chat widget's ``<span data-emoji-bytes='[240, 159, ...]'>`` markup by the emoji itself."""

    def _emoji(match: re.Match[str]) -> str:
        values = [int(value) for value in match.group(1).split(",") if value.strip()]
        return bytes(value for value in values if value < 256).decode("utf-8", errors="ignore")

    return _EMOJI_SPAN.sub(_emoji, text)


def _cell_mean(cell: str) -> float:
    """'1' -> 1.0, '0, 1' -> 0.5, '' -> NaN (annotator did not label)."""
    values = [part.strip() for part in cell.split(",") if part.strip()]
    if not values:
        return np.nan
    return float(np.mean([float(value) for value in values]))


def _annotator_blocks(header: list[str], source: SourceConfig, path: Path) -> int:
    if tuple(header[: len(EXAMPLE_COLUMNS)]) != EXAMPLE_COLUMNS:
        raise LoaderError(
            f"source {source.name!r}: {path.name} does not start with columns {EXAMPLE_COLUMNS}"
        )
    rest = header[len(EXAMPLE_COLUMNS) :]
    if not rest or len(rest) % len(BLOCK_FIELDS):
        raise LoaderError(
            f"source {source.name!r}: {path.name} has {len(rest)} annotator columns, not 17 per block"
        )
    fields = [_ANNOTATOR_PREFIX.sub("", name) for name in rest]
    for index in range(0, len(fields), len(BLOCK_FIELDS)):
        if tuple(fields[index : index + len(BLOCK_FIELDS)]) != BLOCK_FIELDS:
            raise LoaderError(
                f"source {source.name!r}: {path.name} annotator block {index // len(BLOCK_FIELDS) + 1} "
                f"has fields {fields[index : index + len(BLOCK_FIELDS)]}, expected {list(BLOCK_FIELDS)}"
            )
    return len(rest) // len(BLOCK_FIELDS)


def aggregate_votes(votes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-example fractions from a float array [examples, annotators, 17 fields] (NaN = not labelled)."""
    abuse = votes[:, :, : len(ABUSE_FIELDS)]
    labelled = ~np.isnan(abuse).all(axis=2)
    abuse = np.nan_to_num(abuse)
    totals = abuse.sum(axis=2, keepdims=True)
    labelled &= totals[:, :, 0] > 0
    shares = np.divide(abuse, totals, out=np.zeros_like(abuse), where=totals > 0)  # one vote per annotator
    n = labelled.sum(axis=1)
    denominator = np.where(n > 0, n, np.nan)

    def frac(per_annotator: np.ndarray) -> np.ndarray:
        return np.where(labelled, per_annotator, 0.0).sum(axis=1) / denominator

    out: dict[str, np.ndarray] = {"n_annotators": n}
    for name, index in (("not_abuse", 0), ("ambiguous", 1), ("mild", 2), ("strong", 3), ("very_strong", 4)):
        out[f"{name}_frac"] = frac(shares[:, :, index])
    out["abuse_frac"] = out["mild_frac"] + out["strong_frac"] + out["very_strong_frac"]
    out["severity_mean"] = frac(shares[:, :, 2] * 1 + shares[:, :, 3] * 2 + shares[:, :, 4] * 3)
    flags = np.nan_to_num(votes[:, :, len(ABUSE_FIELDS) :])
    for offset, field in enumerate((*TYPE_FIELDS, *OTHER_FIELDS)):
        out[field.replace(".", "_") + "_frac"] = frac(flags[:, :, offset])
    identity = np.stack([flags[:, :, TYPE_FIELDS.index(t)] for t in IDENTITY_TYPES], axis=2).max(axis=2)
    out["identity_frac"] = frac(identity)
    return out


def _load_file(source: SourceConfig, path: Path) -> pd.DataFrame:
    raw = pd.read_csv(io.StringIO(read_text(path)), header=None, dtype=str, keep_default_na=False)
    header = [str(name) for name in raw.iloc[0]]
    blocks = _annotator_blocks(header, source, path)
    data = raw.iloc[1:].reset_index(drop=True)
    text_column = text_field(source, "user")
    if text_column not in EXAMPLE_COLUMNS:
        raise LoaderError(f"source {source.name!r}: text_field must be one of {EXAMPLE_COLUMNS}")
    cells = data.iloc[:, len(EXAMPLE_COLUMNS) :]
    parsed = {value: _cell_mean(value) for value in pd.unique(cells.to_numpy().ravel())}
    votes = cells.apply(lambda column: column.map(parsed)).to_numpy(dtype=float)
    votes = votes.reshape(len(data), blocks, len(BLOCK_FIELDS))
    frame = pd.DataFrame(
        {
            "text": [decode_emoji_spans(text) for text in data.iloc[:, EXAMPLE_COLUMNS.index(text_column)]],
            "example_id": data.iloc[:, 0].to_numpy(),
            "bot": data.iloc[:, EXAMPLE_COLUMNS.index("bot")].to_numpy(),
        }
    )
    return pd.concat([frame, pd.DataFrame(aggregate_votes(votes))], axis=1)


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    frames = [_load_file(source, path) for path in source_files(source, data_root)]
    return pd.concat(frames, ignore_index=True)
