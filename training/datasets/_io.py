"""File helpers shared by the loaders: locating a source's files by role, reading them, checking columns."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from training.datasets import LoaderError

if TYPE_CHECKING:
    from training.config import SourceConfig


def source_files(source: SourceConfig, data_root: Path) -> list[Path]:
    """The source's declared files, each required to exist."""
    paths = source.file_paths(data_root)
    for relative, path in zip(source.files, paths, strict=True):
        if not path.is_file():
            raise LoaderError(
                f"source {source.name!r}: file {relative} not found under data root {data_root}"
            )
    return paths


def pick_files(paths: Iterable[Path], marker: str) -> list[Path]:
    """The paths whose file name contains ``marker`` (case-insensitive), in order."""
    marker = marker.lower()
    return [path for path in paths if marker in path.name.lower()]


def pick_one(source: SourceConfig, paths: list[Path], marker: str, role: str) -> Path:
    """Exactly one path whose name contains ``marker``; a clear error otherwise."""
    found = pick_files(paths, marker)
    if len(found) != 1:
        raise LoaderError(
            f"source {source.name!r}: expected exactly one {role} file (name containing {marker!r}) in "
            f"files {source.files}, found {len(found)}"
        )
    return found[0]


def read_text(path: Path) -> str:
    """A whole text file as UTF-8, gunzipped when its name ends in ``.gz``."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def read_lines(path: Path) -> list[str]:
    """Lines of a text file without their line terminators (``\\n`` only: texts may hold other breaks)."""
    content = read_text(path)
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_table(path: Path, **kwargs: object) -> pd.DataFrame:
    """``pandas.read_csv`` with the compression inferred from the name and errors naming the file."""
    try:
        return pd.read_csv(path, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LoaderError(f"cannot parse {path}: {exc}") from exc


def read_jsonl(path: Path) -> pd.DataFrame:
    """A JSON-lines file (optionally gzipped) as a frame; blank lines are ignored."""
    try:
        return pd.read_json(io.StringIO(read_text(path)), lines=True, dtype=False)
    except ValueError as exc:
        raise LoaderError(f"cannot parse {path} as JSON lines: {exc}") from exc


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, source: SourceConfig, path: Path) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise LoaderError(
            f"source {source.name!r}: {path.name} lacks column(s) {missing}; it has {list(frame.columns)}"
        )


def text_field(source: SourceConfig, default: str) -> str:
    """The raw column holding the text: ``text_field`` when the config sets it, else the loader's default."""
    return source.text_field if "text_field" in source.model_fields_set else default


def with_text(frame: pd.DataFrame, column: str, *, source: SourceConfig, path: Path) -> pd.DataFrame:
    """Rename the text column to ``text`` (as str, missing -> ''), keeping the other columns."""
    require_columns(frame, [column], source=source, path=path)
    frame = frame.rename(columns={column: "text"}) if column != "text" else frame
    frame["text"] = frame["text"].fillna("").astype(str)
    return frame


def option_list(source: SourceConfig, key: str, default: list[str]) -> list[str]:
    """A list-of-strings loader option, validated."""
    value = source.option(key, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LoaderError(f"source {source.name!r}: option {key!r} must be a list of strings, got {value!r}")
    return value


_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0}


def numeric_columns(
    frame: pd.DataFrame, *, source: SourceConfig, path: Path, required: Iterable[str] = ()
) -> pd.DataFrame:
    """Convert label-like columns to float, blank -> NaN (unknown).

    Every column except ``text`` whose non-blank values are all numbers (or true/false) becomes float; other
    columns stay as they are. Columns in ``required`` must convert, else a :class:`LoaderError` names the
    first offending value.
    """
    required = list(required)
    require_columns(frame, required, source=source, path=path)
    for column in frame.columns:
        if column == "text":
            continue
        values = frame[column].astype("string").str.strip()
        blank = values.isna() | values.eq("")
        words = values.str.lower().map(_BOOLEAN_WORDS)
        converted = pd.to_numeric(values.where(~blank & words.isna()), errors="coerce").fillna(words)
        bad = ~blank & converted.isna()
        if bad.any():
            if column in required:
                example = values[bad].iloc[0]
                raise LoaderError(
                    f"source {source.name!r}: {path.name} column {column!r} holds non-numeric value "
                    f"{example!r} ({int(bad.sum())} such rows); label columns take numbers, blank = unknown"
                )
            continue
        frame[column] = converted.astype(float)
    return frame
