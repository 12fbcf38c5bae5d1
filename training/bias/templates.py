"""The identity-term template set: read ``templates.toml`` and expand it into labelled sentences.

Every template is filled with every identity term and every filler (Dixon et al. 2018). A sentence's label is
its filler's: toxic fillers make positives, non-toxic fillers negatives, for every label the set checks.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

import pandas as pd

DEFAULT_TEMPLATES_PATH = Path(__file__).resolve().parent / "templates.toml"
REPO_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = frozenset({"plural", "adj", "filler"})


class TemplateError(ValueError):
    """The template file is malformed."""


@dataclass(frozen=True)
class IdentityTerm:
    name: str
    adj: str
    plural: str
    group: str = ""


@dataclass(frozen=True)
class TemplateSet:
    templates: tuple[str, ...]
    terms: tuple[IdentityTerm, ...]
    toxic_fillers: tuple[str, ...]
    non_toxic_fillers: tuple[str, ...]
    labels: tuple[str, ...]
    sha256: str
    path: str

    @property
    def size(self) -> int:
        return len(self.templates) * len(self.terms) * (len(self.toxic_fillers) + len(self.non_toxic_fillers))

    def describe(self) -> dict[str, object]:
        return {
            "path": display_path(self.path),
            "sha256": self.sha256,
            "templates": len(self.templates),
            "terms": len(self.terms),
            "toxic_fillers": len(self.toxic_fillers),
            "non_toxic_fillers": len(self.non_toxic_fillers),
            "sentences": self.size,
            "labels": list(self.labels),
        }

    def expand(self) -> pd.DataFrame:
        """One row per sentence: ``text``, ``term``, ``group``, ``template`` (index), ``filler``, ``toxic``."""
        rows = []
        fillers = [(f, 1) for f in self.toxic_fillers] + [(f, 0) for f in self.non_toxic_fillers]
        for t_index, template in enumerate(self.templates):
            for term in self.terms:
                for filler, toxic in fillers:
                    text = template.format(plural=term.plural, adj=term.adj, filler=filler)
                    rows.append((text[:1].upper() + text[1:], term.name, term.group, t_index, filler, toxic))
        return pd.DataFrame(rows, columns=["text", "term", "group", "template", "filler", "toxic"])


def display_path(path: str | Path | None) -> str | None:
    """A path relative to the repository when it is inside it (reports stay comparable across checkouts)."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(resolved)


def _strings(raw: object, what: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and x.strip() for x in raw):
        raise TemplateError(f"{what} must be a non-empty list of non-empty strings")
    if len(set(raw)) != len(raw):
        raise TemplateError(f"{what} has duplicates")
    return tuple(raw)


def load_templates(path: str | Path | None = None) -> TemplateSet:
    """Read and validate a template file (default: ``training/bias/templates.toml``)."""
    file = Path(path) if path is not None else DEFAULT_TEMPLATES_PATH
    data = file.read_bytes()
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{file} is not valid TOML: {exc}") from exc
    templates = _strings(raw.get("templates"), "templates")
    for template in templates:
        fields = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
        if "filler" not in fields or not fields & {"plural", "adj"} or fields - PLACEHOLDERS:
            raise TemplateError(
                f"template {template!r} must use {{filler}} and {{plural}} or {{adj}}, and nothing else"
            )
    fillers = raw.get("fillers") or {}
    toxic = _strings(fillers.get("toxic"), "fillers.toxic")
    non_toxic = _strings(fillers.get("non_toxic"), "fillers.non_toxic")
    if set(toxic) & set(non_toxic):
        raise TemplateError(f"fillers both toxic and non-toxic: {sorted(set(toxic) & set(non_toxic))}")
    terms = []
    for entry in raw.get("terms") or []:
        try:
            terms.append(IdentityTerm(name=entry["name"], adj=entry["adj"], plural=entry["plural"],
                                      group=entry.get("group", "")))
        except (KeyError, TypeError) as exc:
            raise TemplateError(f"identity term {entry!r} needs name, adj and plural") from exc
    names = [term.name for term in terms]
    if len(terms) < 2 or len(set(names)) != len(names):
        raise TemplateError("at least two identity terms with distinct names are needed")
    labels = _strings((raw.get("check") or {}).get("labels", ["toxicity"]), "check.labels")
    return TemplateSet(
        templates=templates,
        terms=tuple(terms),
        toxic_fillers=toxic,
        non_toxic_fillers=non_toxic,
        labels=labels,
        sha256=hashlib.sha256(data).hexdigest(),
        path=str(file),
    )
