"""The model registry in ``models/``: immutable versions, a ``current`` pointer and a history of what was served.

Layout of one model directory (what the service's ``--model models/<name>`` points at)::

    models/<name>/<version>/      a bundle (threadguard.bundle); never changed once it is here
    models/<name>/current         one line: the version served; replaced atomically (write temp + rename)
    models/<name>/history.jsonl   one JSON object per line, appended on every promotion and rollback
    models/<name>/HISTORY.md      the same history as a Markdown table, re-rendered after every append
    models/<name>/.registry.lock  flock held while the pointer and history change (two promotions never interleave)

A history line::

    {"time": "2025-01-01T12:00:00Z", "action": "promote", "from": "1.0.0", "to": "1.1.0", "user": "ana",
     "forced": false, "reason": null, "gate": {"passed": true, "failed": [], ...}, "service": {...}}

``action`` is ``promote`` or ``rollback``; a promotion that overrode a failed gate has ``forced: true`` and a
``reason``. The versions that were served form a stack: a promotion pushes its ``to``, a rollback pops, so
``rollback`` returns to the version that was current before the latest promotion still in effect, and a
second rollback to the one before that.
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadguard.bundle import (
    CURRENT_POINTER_FILE,
    MANIFEST_FILE,
    MODELS_ROOT,
    BundleError,
    ModelBundle,
    load_bundle,
    load_manifest,
    utc_now_iso,
)

HISTORY_FILE = "history.jsonl"
HISTORY_MARKDOWN = "HISTORY.md"
LOCK_FILE = ".registry.lock"
ACTIONS = ("promote", "rollback")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_RESERVED = frozenset({CURRENT_POINTER_FILE, HISTORY_FILE, HISTORY_MARKDOWN})


class RegistryError(Exception):
    """The registry is inconsistent or an operation on it is not allowed."""


def check_version_name(version: str) -> str:
    if not _VERSION_RE.match(version) or version in _RESERVED or version.startswith("candidate"):
        raise RegistryError(
            f"version {version!r} cannot be a registry directory (letters, digits, '.', '_', '+', '-'; not "
            f"'current', not 'candidate*')"
        )
    return version


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _natural_key(version: str) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", version)]


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: str
    labels: list[str]
    val_roc_auc: dict[str, float | None]
    current: bool


class ModelRegistry:
    """One model directory ``models/<name>/``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()

    @classmethod
    def for_model(cls, name: str, models_root: str | os.PathLike[str] | None = None) -> ModelRegistry:
        return cls(Path(models_root or MODELS_ROOT) / name)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def pointer_path(self) -> Path:
        return self.path / CURRENT_POINTER_FILE

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    # ------------------------------------------------------------------------------------------ reading
    def exists(self) -> bool:
        return self.path.is_dir()

    def versions(self) -> list[str]:
        """Versions present (directories holding a manifest), in natural version order."""
        if not self.path.is_dir():
            return []
        found = [p.name for p in self.path.iterdir()
                 if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()]
        return sorted(found, key=_natural_key)

    def current(self) -> str | None:
        try:
            version = self.pointer_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return version or None

    def bundle_dir(self, version: str) -> Path:
        return self.path / check_version_name(version)

    def bundle(self, version: str, *, verify: bool = True) -> ModelBundle:
        directory = self.bundle_dir(version)
        if not (directory / MANIFEST_FILE).is_file():
            raise RegistryError(f"{self.name} has no version {version!r} (no {directory / MANIFEST_FILE})")
        bundle = load_bundle(directory, verify=verify)
        if bundle.version != version or bundle.name != self.name:
            raise RegistryError(
                f"{directory} holds {bundle.name} {bundle.version}; registry entries must be "
                f"models/<name>/<version> of their own manifest"
            )
        return bundle

    def current_bundle(self) -> ModelBundle | None:
        version = self.current()
        return self.bundle(version) if version else None

    def describe(self) -> list[VersionInfo]:
        current = self.current()
        infos = []
        for version in self.versions():
            try:
                manifest = load_manifest(self.path / version)
            except BundleError:
                continue
            pooled = manifest.metrics.get("validation", {}).get("pooled", {})
            infos.append(VersionInfo(
                version=version,
                created_at=manifest.created_at,
                labels=list(manifest.labels),
                val_roc_auc={label: m.get("roc_auc") for label, m in pooled.items()},
                current=version == current,
            ))
        return infos

    def history(self) -> list[dict[str, Any]]:
        try:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RegistryError(f"{self.history_path}:{number} is not valid JSON: {exc}") from exc
        return entries

    def served_stack(self) -> list[str]:
        """Versions that were served, oldest first, with rolled-back ones removed; the last is current."""
        stack: list[str] = []
        for entry in self.history():
            if entry.get("action") == "promote":
                if not stack and entry.get("from"):
                    stack.append(entry["from"])
                stack.append(entry["to"])
            elif entry.get("action") == "rollback":
                if stack and stack[-1] == entry.get("from"):
                    stack.pop()
                if not stack or stack[-1] != entry.get("to"):
                    stack.append(entry["to"])
        current = self.current()
        if current and (not stack or stack[-1] != current):
            stack.append(current)  # the pointer was set without the registry (e.g. the shipped model)
        return stack

    def rollback_target(self) -> str:
        """The version ``rollback`` returns to: the one served before the latest promotion still in effect."""
        current = self.current()
        if current is None:
            raise RegistryError(f"{self.pointer_path} does not exist: nothing is served, nothing to roll back")
        stack = self.served_stack()
        history = self.history()
        if history:
            last_to = next((e["to"] for e in reversed(history) if e.get("action") in ACTIONS), None)
            if last_to is not None and last_to != current:
                raise RegistryError(
                    f"{self.pointer_path} says {current!r} but the history's last entry moved it to {last_to!r}: "
                    f"the pointer was changed by hand; pass --to VERSION to choose the version explicitly"
                )
        if len(stack) < 2:
            raise RegistryError(f"{self.name}: no earlier promoted version to roll back to (history: {stack})")
        return stack[-2]

    # ------------------------------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def set_current(self, version: str) -> None:
        """Point ``current`` at ``version`` (which must be a loadable bundle here): temp file + rename."""
        self.bundle(version)
        _atomic_write_text(self.pointer_path, version + "\n")

    def add_bundle(self, source: str | os.PathLike[str]) -> tuple[ModelBundle, bool]:
        """Bring a bundle into the registry as ``<name>/<version>``; returns (bundle, copied).

        A bundle already at its registry place is used as it is. When the version exists with different
        content the copy is refused: versions are immutable, a retrained model needs a new version.
        """
        candidate = load_bundle(source)
        if candidate.name != self.name:
            raise RegistryError(
                f"bundle {candidate.path} is model {candidate.name!r}; this registry is {self.name!r} ({self.path})"
            )
        target = self.bundle_dir(candidate.version)
        if candidate.path == target.resolve():
            return candidate, False
        if target.exists():
            if not _same_files(candidate.path, target):
                raise RegistryError(
                    f"{target} already holds version {candidate.version} with different content; bundles are "
                    f"immutable, train the candidate with a new --version"
                )
            return self.bundle(candidate.version), False
        self.path.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.path, prefix=f".incoming-{candidate.version}-"))
        try:
            for item in candidate.path.iterdir():
                if item.is_file():
                    shutil.copy2(item, staging / item.name)
            os.chmod(staging, 0o755)
            copied = load_bundle(staging)  # verifies the copy's sha256 before it becomes visible
            if copied.manifest.onnx.sha256 != candidate.manifest.onnx.sha256:
                raise RegistryError("copy does not match the candidate")
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.bundle(candidate.version), True

    def append_history(self, entry: dict[str, Any]) -> dict[str, Any]:
        if entry.get("action") not in ACTIONS:
            raise RegistryError(f"unknown history action {entry.get('action')!r}")
        record = {"time": utc_now_iso(), **entry}
        line = json.dumps(record, sort_keys=False, ensure_ascii=False) + "\n"
        with open(self.history_path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.render_history()
        return record

    def render_history(self) -> Path:
        """Write ``HISTORY.md`` from ``history.jsonl`` (newest first)."""
        lines = [
            f"# {self.name}: promotion history",
            "",
            f"Generated from `{HISTORY_FILE}` by `threadguard promote` / `rollback`; do not edit. "
            f"Currently served: **{self.current() or 'nothing'}**.",
            "",
            "| time (UTC) | action | from | to | user | gate | reason |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for entry in reversed(self.history()):
            action = entry.get("action", "")
            if entry.get("forced"):
                action += " (forced)"
            lines.append("| " + " | ".join(_cell(v) for v in (
                entry.get("time"), action, entry.get("from") or "-", entry.get("to"), entry.get("user"),
                gate_cell(entry.get("gate")), entry.get("reason") or "",
            )) + " |")
        path = self.path / HISTORY_MARKDOWN
        _atomic_write_text(path, "\n".join(lines) + "\n")
        return path


def gate_cell(gate: dict[str, Any] | None) -> str:
    if not gate:
        return "-"
    if gate.get("error"):
        return f"not run: {gate['error']}"
    if gate.get("passed"):
        return f"passed ({gate.get('checks', 0)} checks)"
    return "FAILED: " + "; ".join(gate.get("failed", []))


def _cell(value: Any) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _same_files(a: Path, b: Path) -> bool:
    names_a = sorted(p.name for p in a.iterdir() if p.is_file())
    names_b = sorted(p.name for p in b.iterdir() if p.is_file())
    if names_a != names_b:
        return False
    _match, mismatch, errors = filecmp.cmpfiles(a, b, names_a, shallow=False)
    return not mismatch and not errors


def list_models(models_root: str | os.PathLike[str] | None = None) -> list[ModelRegistry]:
    root = Path(models_root or MODELS_ROOT)
    if not root.is_dir():
        return []
    return [ModelRegistry(p) for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and ((p / CURRENT_POINTER_FILE).exists()
                                                              or ModelRegistry(p).versions())]
