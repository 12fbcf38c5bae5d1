"""The model bundle format: one directory holding ``manifest.json``, ``model.onnx`` and ``MODEL_CARD.md``.

This module is the single definition of that format. The trainer writes bundles with :func:`write_bundle`,
the service and the registry read them with :func:`load_bundle`. A bundle is immutable once written: the
manifest records the sha256 of the ONNX file and loading refuses a bundle whose file does not match, so a
half-copied or edited model is never served.

Layout::

    models/<name>/<version>/manifest.json
    models/<name>/<version>/model.onnx        input "text" string[N] -> output "scores" float32[N, L]
    models/<name>/<version>/MODEL_CARD.md
    models/<name>/current                     (registry pointer: one line, the version served by default)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BUNDLE_FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
ONNX_FILE = "model.onnx"
MODEL_CARD_FILE = "MODEL_CARD.md"
CURRENT_POINTER_FILE = "current"
ONNX_INPUT_NAME = "text"
ONNX_OUTPUT_NAME = "scores"

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_ROOT = REPO_ROOT / "models"
DEFAULT_MODEL_NAME = "threadguard-ngram"


class BundleError(Exception):
    """A bundle is missing, malformed or does not match its manifest."""


class LabelThresholds(BaseModel):
    """Decision thresholds for one label: ``review`` at or above the first, ``block`` at or above the second.

    ``block`` is ``None`` for labels that may never block on their own (experimental labels).
    """

    model_config = ConfigDict(extra="forbid")

    review: float = Field(ge=0.0, le=1.0)
    block: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _block_not_below_review(self) -> LabelThresholds:
        if self.block is not None and self.block < self.review:
            raise ValueError(f"block threshold {self.block} is below review threshold {self.review}")
        return self


class DataFileFingerprint(BaseModel):
    path: str
    sha256: str
    bytes: int


class DatasetRecord(BaseModel):
    """What one training source contributed: its files (fingerprinted) and row counts."""

    name: str
    files: list[DataFileFingerprint]
    rows: int
    rows_by_split: dict[str, int] = Field(default_factory=dict)
    labels: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="label -> {positive, negative} counts over this source's rows"
    )


class OnnxInfo(BaseModel):
    file: str = ONNX_FILE
    sha256: str
    input: str = ONNX_INPUT_NAME
    output: str = ONNX_OUTPUT_NAME
    opset: int | None = None


class LabelInfo(BaseModel):
    description: str = ""
    experimental: bool = False


class Manifest(BaseModel):
    """Everything a consumer needs to know about a bundle without opening the ONNX file."""

    model_config = ConfigDict(extra="allow")

    format_version: int = BUNDLE_FORMAT_VERSION
    name: str
    version: str
    labels: list[str] = Field(min_length=1)
    label_info: dict[str, LabelInfo] = Field(default_factory=dict)
    thresholds: dict[str, LabelThresholds]
    languages: list[str] = Field(default_factory=lambda: ["en"])
    featurizer: dict[str, Any]
    metrics: dict[str, Any] = Field(default_factory=dict)
    datasets: list[DatasetRecord] = Field(default_factory=list)
    training: dict[str, Any] = Field(default_factory=dict)
    onnx: OnnxInfo
    created_at: str
    code_version: str

    @model_validator(mode="after")
    def _labels_consistent(self) -> Manifest:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("duplicate label names")
        missing = [label for label in self.labels if label not in self.thresholds]
        if missing:
            raise ValueError(f"no thresholds for labels {missing}")
        return self

    def is_experimental(self, label: str) -> bool:
        info = self.label_info.get(label)
        return bool(info and info.experimental)


@dataclass(frozen=True)
class ModelBundle:
    """A loaded, verified bundle on disk."""

    path: Path
    manifest: Manifest

    @property
    def onnx_path(self) -> Path:
        return self.path / self.manifest.onnx.file

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def labels(self) -> list[str]:
        return list(self.manifest.labels)


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def utc_now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def resolve_bundle_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Turn what a user typed into a bundle directory.

    Accepts a bundle directory (has ``manifest.json``), a model directory with a ``current`` pointer, or
    ``None`` for the default model shipped in ``models/``.
    """
    if path is None:
        path = MODELS_ROOT / DEFAULT_MODEL_NAME
    candidate = Path(path).expanduser()
    if (candidate / MANIFEST_FILE).is_file():
        return candidate
    pointer = candidate / CURRENT_POINTER_FILE
    if pointer.is_file():
        version = pointer.read_text(encoding="utf-8").strip()
        target = candidate / version
        if (target / MANIFEST_FILE).is_file():
            return target
        raise BundleError(f"{pointer} points at version {version!r}, which has no {MANIFEST_FILE}")
    raise BundleError(f"{candidate} is neither a model bundle nor a model directory with a 'current' pointer")


def load_manifest(bundle_dir: Path) -> Manifest:
    manifest_path = bundle_dir / MANIFEST_FILE
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"{manifest_path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from exc
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise BundleError(f"{manifest_path} is not a valid manifest: {exc}") from exc
    if manifest.format_version > BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{manifest_path} has format_version {manifest.format_version}; this code reads up to "
            f"{BUNDLE_FORMAT_VERSION}"
        )
    return manifest


def load_bundle(path: str | os.PathLike[str] | None = None, *, verify: bool = True) -> ModelBundle:
    """Load and verify a bundle: manifest schema, ONNX file present, sha256 as recorded."""
    bundle_dir = resolve_bundle_dir(path).resolve()
    manifest = load_manifest(bundle_dir)
    onnx_path = bundle_dir / manifest.onnx.file
    if not onnx_path.is_file():
        raise BundleError(f"{onnx_path} does not exist")
    if verify:
        actual = sha256_file(onnx_path)
        if actual != manifest.onnx.sha256:
            raise BundleError(
                f"{onnx_path} sha256 {actual[:12]}... does not match the manifest's {manifest.onnx.sha256[:12]}..."
            )
    return ModelBundle(path=bundle_dir, manifest=manifest)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; bundles are read by other users (e.g. the container's)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bundle(
    bundle_dir: str | os.PathLike[str],
    *,
    manifest_fields: Mapping[str, Any],
    onnx_bytes: bytes,
    model_card: str,
    overwrite: bool = False,
) -> ModelBundle:
    """Write a bundle. The ONNX hash is computed here, so callers cannot record a wrong one."""
    target = Path(bundle_dir)
    if (target / MANIFEST_FILE).exists() and not overwrite:
        raise BundleError(f"{target} already holds a bundle; bundles are immutable (pass overwrite=True)")
    target.mkdir(parents=True, exist_ok=True)
    fields = dict(manifest_fields)
    onnx_fields = dict(fields.pop("onnx", {}) or {})
    onnx_fields["sha256"] = hashlib.sha256(onnx_bytes).hexdigest()
    fields.setdefault("created_at", utc_now_iso())
    manifest = Manifest.model_validate({**fields, "onnx": onnx_fields})
    _atomic_write_bytes(target / manifest.onnx.file, onnx_bytes)
    _atomic_write_bytes(target / MODEL_CARD_FILE, model_card.encode("utf-8"))
    manifest_json = json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=False) + "\n"
    _atomic_write_bytes(target / MANIFEST_FILE, manifest_json.encode("utf-8"))
    return load_bundle(target)
