"""Training configuration: the model's labels, where the data lives and which sources feed which label.

Everything about the training data is declared in one TOML file (``training/configs/default.toml``), so
adding a source or changing how a source's annotation maps onto a label is a reviewed config change, not a
code change. The models here validate what can be checked without reading the data: label names, loader
names, expression syntax and, on request, that every declared file exists under the data root.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from threadguard.bundle import LabelInfo
from training.datasets import loader_exists

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_PATH = REPO_ROOT / "training" / "configs" / "default.toml"
DATA_ROOT_ENV = "THREADGUARD_DATA_ROOT"

_BACKTICK_NAME = re.compile(r"`[^`]*`")


class ConfigError(ValueError):
    """The training configuration is invalid or does not match the data it points at."""


def _check_expression(expr: str) -> str:
    """Reject a rule that is not a syntactically valid pandas expression, at config load time."""
    expr = expr.strip()
    if not expr:
        raise ValueError("empty expression")
    # pandas allows `quoted names` for columns that are not identifiers; Python's parser does not.
    probe = _BACKTICK_NAME.sub("_col", expr)
    try:
        ast.parse(probe, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"invalid expression {expr!r}: {exc.msg}") from exc
    return expr


class LabelRule(BaseModel):
    """How one source's columns map onto one label: a row is 1 where ``positive`` holds, 0 where ``negative``
    holds and unknown otherwise. Either side may be omitted (e.g. a positives-only source)."""

    model_config = ConfigDict(extra="forbid")

    positive: str | None = None
    negative: str | None = None

    @field_validator("positive", "negative")
    @classmethod
    def _valid_expression(cls, value: str | None) -> str | None:
        return None if value is None else _check_expression(value)

    @model_validator(mode="after")
    def _at_least_one_side(self) -> LabelRule:
        if self.positive is None and self.negative is None:
            raise ValueError("a label rule needs a 'positive' or a 'negative' expression")
        return self


class SourceConfig(BaseModel):
    """One training source: which loader reads which files, and its label rules."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    loader: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    files: list[str] = Field(min_length=1)
    text_field: str = "text"
    weight: float = Field(default=1.0, gt=0.0)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, LabelRule] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _relative_files(cls, files: list[str]) -> list[str]:
        for item in files:
            if not item.strip():
                raise ValueError("empty file path")
            if Path(item).is_absolute():
                raise ValueError(f"file {item!r} must be relative to the data root")
        return files

    def file_paths(self, data_root: Path) -> list[Path]:
        """The source's files resolved against ``data_root``, in declaration order."""
        return [data_root / item for item in self.files]

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    labels: list[str] = Field(min_length=1)
    label_info: dict[str, LabelInfo] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _labels_consistent(self) -> ModelConfig:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"duplicate label names in model.labels {self.labels}")
        unknown = sorted(set(self.label_info) - set(self.labels))
        if unknown:
            raise ValueError(f"model.label_info describes labels not in model.labels: {unknown}")
        return self


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = "../shared/data"
    val_fraction: float = Field(default=0.15, gt=0.0, lt=1.0)
    seed: int = 13
    drop_unlabeled: bool = Field(
        default=True, description="drop rows for which no label is known after the rules are applied"
    )


class ReportedCopiesConfig(BaseModel):
    """Counterfactual "reported copies" (``[augmentation.reported_copies]``, see training/narratives/augment.py).

    Every *training-split* row of the named sources that is positive for one of ``labels`` gets
    ``copies_per_row`` copies wrapped in a reporting or debunking frame ("Some bloggers claim that ...",
    "There is no evidence that ..."). A copy is 0 for the labels its original was positive for and unknown for
    every other label (a report of a denial says nothing about toxicity). Copies stay in their original's
    source and never enter the validation split.
    """

    model_config = ConfigDict(extra="forbid")

    labels: list[str] = Field(min_length=1)
    copies_per_row: int = Field(default=3, ge=0)
    sources: list[str] | None = None  # None: every enabled source not in exclude_sources
    exclude_sources: list[str] = Field(default_factory=list)


class AugmentationConfig(BaseModel):
    """Rows added to the training split after the sources are loaded (``[augmentation]``)."""

    model_config = ConfigDict(extra="forbid")

    reported_copies: ReportedCopiesConfig | None = None


class TrainingConfig(BaseModel):
    """The whole training configuration file."""

    model_config = ConfigDict(extra="forbid")

    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    featurizer: dict[str, Any] = Field(default_factory=dict)
    classifier: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, Any] = Field(default_factory=dict)
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)

    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _sources_consistent(self) -> TrainingConfig:
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate source names: {duplicates}")
        known = set(self.model.labels)
        for source in self.sources:
            unknown = sorted(set(source.labels) - known)
            if unknown:
                raise ValueError(
                    f"source {source.name!r} has rules for labels {unknown} that are not in model.labels "
                    f"{self.model.labels}"
                )
            if not loader_exists(source.loader):
                raise ValueError(
                    f"source {source.name!r}: unknown loader {source.loader!r} "
                    f"(no module training.datasets.{source.loader} with a load() function)"
                )
        copies = self.augmentation.reported_copies
        if copies is not None:
            unknown_labels = sorted(set(copies.labels) - known)
            if unknown_labels:
                raise ValueError(f"augmentation.reported_copies: labels {unknown_labels} are not in model.labels")
            unknown_sources = sorted((set(copies.sources or []) | set(copies.exclude_sources)) - set(names))
            if unknown_sources:
                raise ValueError(f"augmentation.reported_copies: no sources named {unknown_sources}")
        return self

    @property
    def labels(self) -> list[str]:
        return list(self.model.labels)

    @property
    def path(self) -> Path | None:
        """The file this configuration was loaded from, if any."""
        return self._path

    @property
    def enabled_sources(self) -> list[SourceConfig]:
        return [source for source in self.sources if source.enabled]

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"no source named {name!r}; known: {[s.name for s in self.sources]}")

    def resolve_data_root(self, override: str | os.PathLike[str] | None = None) -> Path:
        """Data root: explicit argument, else ``$THREADGUARD_DATA_ROOT``, else ``[data].root``.

        A relative ``[data].root`` resolves against the repository root, so the default works from any working
        directory; an argument or environment value is taken as typed (relative to the working directory).
        """
        if override is not None:
            return Path(override).expanduser().resolve()
        env = os.environ.get(DATA_ROOT_ENV, "").strip()
        if env:
            return Path(env).expanduser().resolve()
        root = Path(self.data.root).expanduser()
        return (root if root.is_absolute() else REPO_ROOT / root).resolve()

    def check_files(self, data_root: Path, sources: list[SourceConfig] | None = None) -> None:
        """Raise :class:`ConfigError` naming every declared file of the (enabled) sources that is missing."""
        problems: list[str] = []
        for source in self.enabled_sources if sources is None else sources:
            for relative, path in zip(source.files, source.file_paths(data_root), strict=True):
                if not path.is_file():
                    problems.append(f"source {source.name!r}: {relative} (looked for {path})")
        if problems:
            listing = "\n  ".join(problems)
            raise ConfigError(
                f"{len(problems)} data file(s) missing under data root {data_root}:\n  {listing}\n"
                f"Set [data].root in the config, ${DATA_ROOT_ENV}, or pass the data root explicitly."
            )


def without_labels(raw: dict[str, Any], labels: Iterable[str]) -> dict[str, Any]:
    """A copy of a parsed TOML config with ``labels`` removed: from the model, their per-label classifier
    settings and every source's rules; sources left annotating nothing are dropped, and so is an augmentation
    table that only served them. For comparisons such as "does adding these labels cost the others anything"."""
    drop = set(labels)
    raw = copy.deepcopy(raw)
    model = raw.setdefault("model", {})
    model["labels"] = [label for label in model.get("labels", []) if label not in drop]
    model["label_info"] = {k: v for k, v in model.get("label_info", {}).items() if k not in drop}
    per_label = raw.get("classifier", {}).get("per_label", {})
    for label in drop & set(per_label):
        del per_label[label]
    raw["sources"] = [source for source in raw.get("sources", []) if set(source.get("labels", {})) - drop]
    for source in raw["sources"]:
        source["labels"] = {k: v for k, v in source["labels"].items() if k not in drop}
    copies = raw.get("augmentation", {}).get("reported_copies")
    if copies is not None:
        copies["labels"] = [label for label in copies.get("labels", []) if label not in drop]
        if not copies["labels"]:
            del raw["augmentation"]["reported_copies"]
    return raw


def parse_config(raw: dict[str, Any], *, origin: str = "<config>") -> TrainingConfig:
    """Validate an already-parsed TOML document."""
    try:
        return TrainingConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin} is not a valid training config:\n{exc}") from exc


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    data_root: str | os.PathLike[str] | None = None,
    check_files: bool = False,
) -> TrainingConfig:
    """Read and validate a training config (default: ``training/configs/default.toml``).

    With ``check_files`` the declared files of every enabled source must exist under the resolved data root.
    """
    config_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {config_path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path} is not valid TOML: {exc}") from exc
    config = parse_config(raw, origin=str(config_path))
    config._path = config_path.resolve()
    if check_files:
        config.check_files(config.resolve_data_root(data_root))
    return config
