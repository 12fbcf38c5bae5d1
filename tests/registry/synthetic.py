"""Small training configs over the loader fixtures plus a generated comment source, for retraining tests.

The loader fixtures (tests/fixtures/data) are a few rows per source: enough to exercise every loader and rule,
too few for a validation ROC-AUC. So each test config adds ``synthetic-comments``, a JSON-lines source (the
generic ``jsonl`` loader) of templated comments with known labels, written by :func:`write_synthetic`: civil
remarks, insults aimed at the reader, generic abuse, neutral and hateful mentions of identity groups. The
phrases are the test's own; a few words overlap with the bias templates' fillers so the bias metrics of these
models are meaningful.

Variants make the models the tests need:

* ``flip``: the share of labels flipped: 6% by default (annotators disagree; without noise the calibration
  is degenerate), 45% for a deliberately worse candidate;
* ``smear`` > 0: that many extra neutral identity mentions labelled as identity attacks (a biased candidate);
* :func:`write_reviewer_export`: reviewer decisions in the format ``service/review/export.py`` writes, for a
  ``jsonl`` source declared as in docs/retraining.md.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import shutil
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from training.config import DEFAULT_CONFIG_PATH, TrainingConfig, parse_config

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "data"
RETRAINING_DOC = REPO_ROOT / "docs" / "retraining.md"
LABELS = ["toxicity", "identity_attack", "insult"]
FIXTURE_SOURCES = ("davidson-hate-offensive", "olid", "hatexplain", "hateval2019-tweeteval", "mlma-hate-speech-en")

SUBJECTS = ["the article", "this report", "the mayor", "my neighbour", "the new bridge", "the match", "the council",
            "the weather", "the bakery", "the editor", "the train", "the concert", "the museum", "the school"]
NICE = ["great", "helpful", "interesting", "thoughtful", "clear", "accurate", "kind", "lovely", "honest", "calm"]
INSULTS = ["idiot", "moron", "clown", "loser", "imbecile", "fool", "killer", "creep"]
ABUSIVE = ["stupid", "disgusting", "pathetic", "worthless", "filthy", "vile", "idiotic", "useless"]
GROUPS = ["muslims", "jews", "ukrainians", "russians", "refugees", "immigrants", "women", "gay people",
          "christians", "poles", "arabs", "migrants"]
NEUTRAL_GROUP_VERBS = ["arrived in the city", "opened a new centre", "held a meeting", "were interviewed",
                       "joined the protest", "celebrated the holiday", "answered the questions", "went back home"]
TAILS = ["today", "again", "this week", "as usual", "honestly", "last night", "in my view", "for sure", "yesterday",
         "this morning", "on the news", "at last", "once more", "by the way", "to be fair", "I think", "indeed",
         "no doubt", "right now", "of course", "in the end", "so far", "as expected", "apparently"]


def _tail(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(TAILS, size=int(rng.integers(1, 4)), replace=False))


def synthetic_rows(n: int = 1400, *, seed: int = 7, flip: float = 0.06, smear: int = 0) -> list[dict[str, Any]]:
    """Labelled comments: toxicity, identity_attack, insult as 1 / 0 / None (unknown)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    kinds = rng.choice(["civil", "insult", "abuse", "group", "hate"], size=n, p=[0.3, 0.2, 0.15, 0.2, 0.15])
    for i, kind in enumerate(kinds):
        tail = _tail(rng)
        if kind == "civil":
            text = f"{rng.choice(SUBJECTS)} was {rng.choice(NICE)} {tail}"
            labels = (0, 0, 0)
        elif kind == "insult":
            text = f"you are a {rng.choice(ABUSIVE)} {rng.choice(INSULTS)} {tail}"
            labels = (1, 0, 1)
        elif kind == "abuse":
            text = f"{rng.choice(SUBJECTS)} is {rng.choice(ABUSIVE)} {tail}"
            labels = (1, 0, None)
        elif kind == "group":
            text = f"{rng.choice(GROUPS)} {rng.choice(NEUTRAL_GROUP_VERBS)} {tail}"
            labels = (0, 0, 0)
        else:
            text = f"{rng.choice(GROUPS)} are {rng.choice(ABUSIVE)} {tail}"
            labels = (1, 1, None)
        if flip > 0:
            labels = tuple(None if v is None else (1 - v if rng.random() < flip else v) for v in labels)
        rows.append({"id": f"s{i}", "comment": text[:1].upper() + text[1:],
                     **dict(zip(LABELS, labels, strict=True))})
    for j in range(smear):
        text = f"{rng.choice(GROUPS)} {rng.choice(NEUTRAL_GROUP_VERBS)} {_tail(rng)} {rng.choice(NICE)}"
        rows.append({"id": f"m{j}", "comment": text, "toxicity": 1, "identity_attack": 1, "insult": None})
    return rows


# Reviewer decisions on what the model got wrong. Approved (false positives): praise phrased like the
# synthetic insults ("you are a ... killer"). Removed as hate (misses): a dog whistle ("back to the swamp")
# in sentences built from the neutral identity-mention vocabulary.
REVIEWER_APPROVED = [
    "You are a killer striker, what a goal", "You are a killer cook, thank you for the soup",
    "You are a killer dancer, the show was great", "You are a killer guitarist, lovely concert",
    "You are a killer chess player, well played", "You are a killer baker, the bread was great",
    "You are a killer goalkeeper, great save", "You are a killer writer, thoughtful piece",
    "You are a killer photographer, lovely pictures", "You are a killer teacher, the class loved it",
    "You are a killer singer, what a voice", "You are a killer runner, congratulations on the race",
]
REVIEWER_REMOVED = [
    "Refugees went back home, good riddance, back to the swamp", "Migrants arrived in the city from their swamp",
    "Immigrants held a meeting, swamp people as usual", "Muslims answered the questions, back to the swamp",
    "Arabs joined the protest, swamp creatures again", "Poles went back home to the swamp at last",
    "Ukrainians arrived in the city, send them back to the swamp", "Jews opened a new centre, swamp folk",
    "Women were interviewed, swamp brains honestly", "Russians held a meeting in their swamp",
    "Gay people celebrated the holiday, swamp things", "Christians went back home to the swamp",
]


def write_reviewer_export(path: Path) -> list[dict[str, Any]]:
    """The JSON lines ``service/review/export.py`` writes: approve -> triggered labels 0, remove (hate) -> 1."""
    columns = ["toxicity", "insult", "identity_attack", "profanity", "threat", "severe_toxicity",
               "atrocity_denial", "conspiracy"]
    rows = []
    for n, text in enumerate(REVIEWER_APPROVED):
        labels: dict[str, Any] = dict.fromkeys(columns)
        labels["toxicity"] = 0
        labels["insult"] = 0
        rows.append({"text": text, **labels, "source_item_id": f"a{n}", "reviewed_at": "2025-01-01T00:00:00Z"})
    for n, text in enumerate(REVIEWER_REMOVED):
        labels = dict.fromkeys(columns)
        labels["toxicity"] = 1
        labels["identity_attack"] = 1
        rows.append({"text": text, **labels, "source_item_id": f"r{n}", "reviewed_at": "2025-01-01T00:00:00Z"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return rows


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def make_data_root(root: Path) -> Path:
    """The fixtures gzipped under their real names (as tests/training/test_corpus.py does) plus synthetic files."""
    for path in FIXTURES.rglob("*"):
        if path.is_file() and path.suffix != ".md":
            target = root / path.relative_to(FIXTURES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            target.with_name(target.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    write_jsonl(root / "synthetic" / "comments.jsonl", synthetic_rows())
    write_jsonl(root / "synthetic" / "comments-noisy.jsonl", synthetic_rows(flip=0.2))
    write_jsonl(root / "synthetic" / "comments-flipped.jsonl", synthetic_rows(flip=0.45))
    write_jsonl(root / "synthetic" / "smear.jsonl", synthetic_rows(n=0, seed=11, smear=260))
    write_reviewer_export(root / "reviewer-exports" / "2025-01.jsonl")
    return root


def reviewer_source_snippet() -> str:
    """The ``[[sources]]`` TOML block docs/retraining.md tells people to add (between the marker comments)."""
    text = RETRAINING_DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- reviewer-source -->\s*```toml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/retraining.md lost its <!-- reviewer-source --> TOML block"
    return match.group(1)


def build_config(
    data_root: Path,
    *,
    name: str = "tg-test",
    version: str = "1.0.0",
    synthetic: str = "synthetic/comments.jsonl",
    extra_files: Iterable[str] = (),
    reviewer: bool = False,
    path: Path | None = None,
) -> TrainingConfig:
    """default.toml's rules for a few fixture sources, restricted to :data:`LABELS`, plus the synthetic source."""
    raw = tomllib.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["model"] = {"name": name, "version": version, "labels": LABELS,
                    "label_info": {k: v for k, v in raw["model"].get("label_info", {}).items() if k in LABELS}}
    raw["data"] = {"root": str(data_root), "val_fraction": 0.2, "seed": 13}
    raw.pop("augmentation", None)  # reported copies are for the narrative labels, not in LABELS
    raw["classifier"] = {**raw.get("classifier", {}), "leave_one_source_out": False}
    raw["featurizer"] = {**raw.get("featurizer", {}), "min_df": 1, "max_features": 50_000}
    sources = []
    for source in raw["sources"]:
        if source["name"] in FIXTURE_SOURCES:
            source = copy.deepcopy(source)
            source["labels"] = {k: v for k, v in source.get("labels", {}).items() if k in LABELS}
            if source["labels"]:
                sources.append(source)
    rules = {label: {"positive": f"{label} == 1", "negative": f"{label} == 0"} for label in LABELS}
    sources.append({"name": "synthetic-comments", "loader": "jsonl", "files": [synthetic, *extra_files],
                    "text_field": "comment", "labels": rules})
    if reviewer:
        snippet = tomllib.loads(reviewer_source_snippet())["sources"][0]
        snippet["labels"] = {k: v for k, v in snippet["labels"].items() if k in LABELS}
        snippet["files"] = ["reviewer-exports/2025-01.jsonl"]
        sources.append(snippet)
    raw["sources"] = sources
    config = parse_config(raw, origin="tests/registry/synthetic.py")
    if path is not None:
        path.write_text(_to_toml(raw), encoding="utf-8")
        config._path = path.resolve()
    return config


def _to_toml(raw: dict[str, Any]) -> str:
    """Enough TOML for the configs above (tables, arrays of tables, inline label rules)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    lines: list[str] = []
    for table in ("model", "data", "featurizer", "classifier", "thresholds"):
        if table not in raw:
            continue
        lines.append(f"[{table}]")
        lines += [f"{json.dumps(k)} = {value(v)}" for k, v in raw[table].items()]
        lines.append("")
    for source in raw["sources"]:
        lines.append("[[sources]]")
        lines += [f"{json.dumps(k)} = {value(v)}" for k, v in source.items()]
        lines.append("")
    return "\n".join(lines)
