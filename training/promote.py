"""``threadguard promote`` and ``threadguard rollback``: move a model's ``current`` pointer safely.

``promote DIR``:

1. loads the candidate bundle (sha256 verified) and finds its registry ``models/<name>/``;
2. runs the **gate** against the current version on the same rows (the validation split of the training
   config) and the same identity templates: every label both serve may lose at most ``max_auc_drop`` ROC-AUC,
   the candidate must keep every label, and the bias metrics (subgroup / BPSN / BNSP AUC, false-positive rate
   on non-toxic identity mentions) may worsen at most by the configured tolerances. A failed gate refuses the
   promotion unless ``--force --reason "..."``;
3. copies the bundle to ``models/<name>/<version>/`` (refusing a different bundle under an existing version),
   writes ``current`` atomically and appends the history (registry.py);
4. tells a running service to reload: ``POST /v1/admin/reload`` without a body, which re-reads the configured
   model directory's ``current`` pointer; requests in flight finish on the old model, none fail. If the
   service rejects the bundle the pointer is put back. Without a service URL the service picks the new
   version up on its next reload (SIGHUP or the admin endpoint) or restart.

``rollback`` moves ``current`` back to the version served before the latest promotion (registry.py), with
the same reload. The gate tolerances live in ``training/configs/gate.toml``.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from threadguard.bundle import REPO_ROOT, ModelBundle, load_bundle
from training.registry import ModelRegistry, RegistryError

Progress = Callable[[str], None]
DEFAULT_GATE_PATH = REPO_ROOT / "training" / "configs" / "gate.toml"
SERVICE_URL_ENV = "THREADGUARD_SERVICE_URL"
ADMIN_KEY_ENV = "THREADGUARD_ADMIN_KEY"
BIAS_AUC_METRICS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")


class PromotionError(Exception):
    """The promotion or rollback cannot go ahead (nothing was changed)."""


class GateRefused(PromotionError):
    def __init__(self, result: GateResult) -> None:
        super().__init__(f"gate refused {result.candidate} against {result.baseline}: {'; '.join(result.failed)}")
        self.result = result


class ServiceError(Exception):
    """The service could not be told to reload, or answered with something other than the new version."""


class ServiceRejected(ServiceError):
    """The service refused the bundle (422 model_rejected); it keeps serving the old one."""


# ---------------------------------------------------------------------------------------------- gate config
@dataclass(frozen=True)
class GateConfig:
    max_auc_drop: float = 0.005
    keep_labels: bool = True
    bias_enabled: bool = True
    templates: str = "training/bias/templates.toml"
    max_mean_auc_drop: float = 0.01
    max_worst_term_auc_drop: float = 0.03
    max_mean_fpr_increase: float = 0.02
    max_worst_term_fpr_increase: float = 0.05
    source: str | None = None

    @property
    def templates_path(self) -> Path:
        path = Path(self.templates).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path

    def with_overrides(self, **values: Any) -> GateConfig:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def load_gate_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> GateConfig:
    """Read ``[gate]`` (and ``[gate.bias]``) from a TOML file, default ``training/configs/gate.toml``."""
    file = Path(path) if path is not None else DEFAULT_GATE_PATH
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PromotionError(f"gate config {file} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PromotionError(f"gate config {file} is not valid TOML: {exc}") from exc
    gate = dict(raw.get("gate") or {})
    bias = dict(gate.pop("bias", {}) or {})
    known = {f for f in GateConfig.__dataclass_fields__ if f != "source"}
    values: dict[str, Any] = {}
    for key, value in gate.items():
        if key not in known:
            raise PromotionError(f"{file}: unknown [gate] key {key!r}")
        values[key] = value
    for key, value in bias.items():
        name = "bias_enabled" if key == "enabled" else key
        if name not in known:
            raise PromotionError(f"{file}: unknown [gate.bias] key {key!r}")
        values[name] = value
    try:
        config = GateConfig(**values, source=str(file))
    except TypeError as exc:
        raise PromotionError(f"{file}: {exc}") from exc
    for name in ("max_auc_drop", "max_mean_auc_drop", "max_worst_term_auc_drop", "max_mean_fpr_increase",
                 "max_worst_term_fpr_increase"):
        if not isinstance(getattr(config, name), int | float) or getattr(config, name) < 0:
            raise PromotionError(f"{file}: {name} must be a number >= 0")
    return config.with_overrides(**overrides)


# ----------------------------------------------------------------------------------------------------- gate
@dataclass(frozen=True)
class GateCheck:
    name: str  # "roc_auc", "labels", "bias.<metric>.<mean|min>", "bias.fpr.<mean|max>"
    label: str | None
    baseline: float | str | None
    candidate: float | str | None
    limit: float | None
    passed: bool
    detail: str

    @property
    def delta(self) -> float | None:
        if isinstance(self.baseline, int | float) and isinstance(self.candidate, int | float):
            return float(self.candidate) - float(self.baseline)
        return None


@dataclass
class GateResult:
    candidate: str
    baseline: str
    checks: list[GateCheck] = field(default_factory=list)
    config: GateConfig = field(default_factory=GateConfig)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.detail for check in self.checks if not check.passed]

    def summary(self) -> dict[str, Any]:
        """What the history records."""
        return {
            "passed": self.passed,
            "baseline": self.baseline,
            "checks": len(self.checks),
            "failed": self.failed,
            "max_auc_drop": self.config.max_auc_drop,
            "roc_auc": {c.label: {"baseline": _r(c.baseline), "candidate": _r(c.candidate)}
                        for c in self.checks if c.name == "roc_auc"},
        }

    def to_dict(self) -> dict[str, Any]:
        config = asdict(self.config)
        return {
            "passed": self.passed,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "config": config,
            "checks": [{**asdict(c), "delta": c.delta} for c in self.checks],
            "failed": self.failed,
            "notes": self.notes,
        }

    def format(self) -> str:
        lines = [f"gate: {self.candidate} against {self.baseline}: {'PASSED' if self.passed else 'FAILED'}"]
        for check in self.checks:
            lines.append(f"  [{'ok' if check.passed else 'FAIL'}] {check.detail}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _r(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def run_gate(candidate: Any, baseline: Any, config: GateConfig) -> GateResult:
    """Compare two :class:`training.report.evaluation.BundleEvaluation` of the same rows and templates."""
    result = GateResult(candidate=f"{candidate.bundle.name} {candidate.bundle.version}",
                        baseline=f"{baseline.bundle.name} {baseline.bundle.version}", config=config)
    if config.keep_labels:
        missing = [label for label in baseline.bundle.labels if label not in candidate.bundle.labels]
        result.checks.append(GateCheck(
            name="labels", label=None, baseline=", ".join(baseline.bundle.labels),
            candidate=", ".join(candidate.bundle.labels), limit=None, passed=not missing,
            detail=f"labels: candidate drops {missing}" if missing else "labels: candidate serves every baseline label",
        ))
    added = [label for label in candidate.bundle.labels if label not in baseline.bundle.labels]
    if added:
        result.notes.append(f"new labels (no baseline to compare): {added}")
    for label in candidate.labels:
        if label not in baseline.labels:
            continue
        old, new = baseline.roc_auc.get(label), candidate.roc_auc.get(label)
        if old is None or new is None:
            result.notes.append(f"{label}: too few validation positives or negatives for a ROC-AUC; not gated")
            continue
        drop = old - new
        result.checks.append(GateCheck(
            name="roc_auc", label=label, baseline=old, candidate=new, limit=config.max_auc_drop,
            passed=drop <= config.max_auc_drop + 1e-12,
            detail=f"{label} val ROC-AUC {old:.4f} -> {new:.4f} ({-drop:+.4f}; may drop at most "
                   f"{config.max_auc_drop})",
        ))
    if config.bias_enabled:
        _bias_checks(result, candidate.bias, baseline.bias, config)
    return result


def _bias_checks(result: GateResult, new: dict[str, Any] | None, old: dict[str, Any] | None,
                 config: GateConfig) -> None:
    if not new or not old:
        result.checks.append(GateCheck("bias", None, None, None, None, False, "bias: not measured"))
        return
    if new["templates"]["sha256"] != old["templates"]["sha256"]:
        result.checks.append(GateCheck("bias", None, None, None, None, False,
                                       "bias: the two models were measured with different template sets"))
        return
    labels = [label for label in new["labels"] if label in old["labels"]]
    if not labels:
        result.notes.append("bias: no label of the template set's check list is served by both models")
    for label in labels:
        before, after = old["labels"][label]["summary"], new["labels"][label]["summary"]
        for metric in BIAS_AUC_METRICS:
            for stat, limit in (("mean", config.max_mean_auc_drop), ("min", config.max_worst_term_auc_drop)):
                a, b = before[metric][stat], after[metric][stat]
                if a is None or b is None:
                    continue
                where = f" (worst term {before[metric]['min_term']} -> {after[metric]['min_term']})" \
                    if stat == "min" else ""
                result.checks.append(GateCheck(
                    name=f"bias.{metric}.{stat}", label=label, baseline=a, candidate=b, limit=limit,
                    passed=a - b <= limit + 1e-12,
                    detail=f"{label} bias {metric} {stat} over terms {a:.4f} -> {b:.4f} ({b - a:+.4f}; may drop "
                           f"at most {limit}){where}",
                ))
        for stat, limit in (("mean", config.max_mean_fpr_increase), ("max", config.max_worst_term_fpr_increase)):
            a, b = before["fpr"][stat], after["fpr"][stat]
            if a is None or b is None:
                continue
            where = f" (worst term {before['fpr']['max_term']} -> {after['fpr']['max_term']})" if stat == "max" else ""
            result.checks.append(GateCheck(
                name=f"bias.fpr.{stat}", label=label, baseline=a, candidate=b, limit=limit,
                passed=b - a <= limit + 1e-12,
                detail=f"{label} FPR on non-toxic identity mentions, {stat} over terms {a:.4f} -> {b:.4f} "
                       f"({b - a:+.4f}; may rise at most {limit}){where}",
            ))


# ---------------------------------------------------------------------------------------------- the service
def reload_service(url: str, *, admin_key: str | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """``POST <url>/v1/admin/reload`` without a body: the service re-reads its model directory's pointer."""
    request = urllib.request.Request(url.rstrip("/") + "/v1/admin/reload", data=b"", method="POST")
    if admin_key:
        request.add_header("Authorization", f"Bearer {admin_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", errors="replace")[:500]
        if exc.code == 422:
            raise ServiceRejected(f"the service rejected the bundle and keeps its old model: {body}") from exc
        raise ServiceError(f"reload answered HTTP {exc.code}: {body}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServiceError(f"could not reach {url}: {exc}") from exc


@dataclass
class Outcome:
    action: str
    model: str
    previous: str | None
    version: str
    entry: dict[str, Any]
    registry: ModelRegistry
    gate: GateResult | None = None
    copied: bool = False
    service_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.service_error is None


def _switch(registry: ModelRegistry, version: str, previous: str | None, service_url: str | None,
            admin_key: str | None, say: Progress) -> tuple[dict[str, Any], str | None]:
    """Write the pointer, then reload the service. A rejected reload puts the pointer back and raises."""
    registry.set_current(version)
    say(f"{registry.pointer_path} -> {version}")
    if not service_url:
        say("no service URL given (--service-url / $THREADGUARD_SERVICE_URL): a running service picks the new "
            "version up on its next reload (SIGHUP or POST /v1/admin/reload) or restart")
        return {"reloaded": False}, None
    try:
        answer = reload_service(service_url, admin_key=admin_key)
    except ServiceRejected:
        if previous is not None:
            registry.set_current(previous)
        else:
            registry.pointer_path.unlink(missing_ok=True)
        say(f"service rejected {version}; {registry.pointer_path} put back to {previous}")
        raise
    except ServiceError as exc:
        return {"url": service_url, "reloaded": False, "error": str(exc)}, str(exc)
    served = (answer.get("model") or {}).get("version")
    info = {"url": service_url, "reloaded": True, "version": served,
            "reload_generation": answer.get("reload_generation")}
    if served != version:
        error = (f"the service at {service_url} reloaded but serves {served!r}, not {version!r}: is it serving "
                 f"{registry.path} (its --model / THREADGUARD_MODEL)?")
        return {**info, "error": error}, error
    say(f"service at {service_url} now serves {registry.name} {served}")
    return info, None


# ---------------------------------------------------------------------------------------------- promote
def promote(
    candidate_dir: str | os.PathLike[str],
    *,
    models_root: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    gate_config: GateConfig | None = None,
    force: bool = False,
    reason: str | None = None,
    user: str | None = None,
    service_url: str | None = None,
    admin_key: str | None = None,
    report_dir: str | os.PathLike[str] | None = None,
    corpus: Any = None,
    progress: Progress | None = None,
) -> Outcome:
    """Gate, register and switch to the bundle at ``candidate_dir``. See the module docstring."""
    say = progress or (lambda _: None)
    if force and not (reason and reason.strip()):
        raise PromotionError("--force needs --reason \"...\" (it is recorded in the history)")
    gate_config = gate_config or load_gate_config()
    candidate = load_bundle(candidate_dir)
    registry = ModelRegistry.for_model(candidate.name, models_root)
    current = registry.current()
    if current == candidate.version:
        raise PromotionError(f"{candidate.name} {candidate.version} is already current")
    conflict = registry.bundle_dir(candidate.version)
    if conflict.exists() and conflict.resolve() != candidate.path:
        registry_copy = load_bundle(conflict, verify=False)
        if registry_copy.manifest.onnx.sha256 != candidate.manifest.onnx.sha256:
            raise PromotionError(f"{conflict} already holds a different bundle as version {candidate.version}; "
                                 f"versions are immutable, train the candidate with a new --version")

    gate: GateResult | None = None
    gate_summary: dict[str, Any]
    if current is None:
        say(f"{registry.path} serves nothing yet: first promotion, no baseline to gate against")
        gate_summary = {"passed": True, "skipped": "no current version"}
    else:
        try:
            baseline = registry.bundle(current)
            gate = evaluate_and_gate(candidate, baseline, gate_config, config_path=config_path,
                                     data_root=data_root, corpus=corpus, report_dir=report_dir, progress=say)
        except GateRefused:
            raise
        except Exception as exc:  # the gate could not run (data missing, broken baseline, ...)
            if not force:
                raise PromotionError(f"the gate could not run: {exc}") from exc
            say(f"the gate could not run ({exc}); continuing because of --force")
            gate_summary = {"passed": False, "error": str(exc)}
        else:
            say(f"gate: {'passed' if gate.passed else 'FAILED'} ({len(gate.checks)} checks, "
                f"{len(gate.failed)} failed)")
            gate_summary = gate.summary()
            if not gate.passed and not force:
                raise GateRefused(gate)

    with registry.lock():
        if registry.current() != current:
            raise PromotionError(f"{registry.pointer_path} changed from {current!r} to {registry.current()!r} "
                                 f"while the gate ran; run promote again")
        bundle, copied = registry.add_bundle(candidate.path)
        if copied:
            say(f"copied {candidate.path} -> {bundle.path}")
        try:
            service, error = _switch(registry, bundle.version, current, service_url, admin_key, say)
        except ServiceRejected:
            if copied:  # nothing refers to it: the registry looks as before the attempt
                shutil.rmtree(bundle.path, ignore_errors=True)
            raise
        entry = registry.append_history({
            "action": "promote",
            "from": current,
            "to": bundle.version,
            "user": user or _user(),
            "forced": bool(force),
            "reason": reason,
            "gate": gate_summary,
            "onnx_sha256": bundle.manifest.onnx.sha256,
            "service": service,
        })
    return Outcome("promote", registry.name, current, bundle.version, entry, registry, gate=gate, copied=copied,
                   service_error=error)


def evaluate_and_gate(
    candidate: ModelBundle,
    baseline: ModelBundle,
    gate_config: GateConfig,
    *,
    config_path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    corpus: Any = None,
    report_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Score both bundles on the config's validation split and the templates, gate, optionally report."""
    from training.bias import load_templates
    from training.config import load_config
    from training.report import evaluate_model, load_evaluation_data, measure_latencies, write_report

    config = load_config(config_path, data_root=data_root, check_files=corpus is None)
    data = load_evaluation_data(config, data_root=None if data_root is None else Path(data_root), corpus=corpus,
                                progress=progress)
    templates = load_templates(gate_config.templates_path) if gate_config.bias_enabled else None
    new = evaluate_model(candidate, data, templates=templates, latency=False, progress=progress)
    old = evaluate_model(baseline, data, templates=templates, latency=False, progress=progress)
    gate = run_gate(new, old, gate_config)
    if report_dir is not None:
        measure_latencies([old, new], data)
        write_report(Path(report_dir), data, new, old, gate=gate)
    return gate


# ---------------------------------------------------------------------------------------------- rollback
def rollback(
    model: str,
    *,
    models_root: str | os.PathLike[str] | None = None,
    to: str | None = None,
    reason: str | None = None,
    user: str | None = None,
    service_url: str | None = None,
    admin_key: str | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Point ``current`` back at the previously served version (or ``to``, which must have been served)."""
    say = progress or (lambda _: None)
    registry = ModelRegistry.for_model(model, models_root)
    if not registry.exists():
        raise PromotionError(f"no model directory {registry.path}")
    with registry.lock():
        current = registry.current()
        try:
            if to is None:
                target = registry.rollback_target()
            else:
                served = set(registry.served_stack()) | {e.get("from") for e in registry.history()} | {
                    e.get("to") for e in registry.history()}
                if to not in served:
                    raise RegistryError(f"{to!r} was never served by {registry.name}; promote it instead (the "
                                        f"gate runs on promotion, not on rollback)")
                target = to
            if target == current:
                raise RegistryError(f"{target} is already current")
            registry.bundle(target)  # verified before anything changes
        except RegistryError as exc:
            raise PromotionError(str(exc)) from exc
        service, error = _switch(registry, target, current, service_url, admin_key, say)
        entry = registry.append_history({
            "action": "rollback",
            "from": current,
            "to": target,
            "user": user or _user(),
            "forced": False,
            "reason": reason,
            "gate": None,
            "service": service,
        })
    return Outcome("rollback", registry.name, current, target, entry, registry, service_error=error)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")
