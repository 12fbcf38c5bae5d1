"""The corpus: default.toml's rules on the fixtures, dedup, splits, fingerprints; and the real data folder."""

from __future__ import annotations

import copy
import gzip
import hashlib
import shutil
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    TrainingConfig,
    load_config,
    parse_config,
    without_labels,
)
from training.corpus import Corpus, build_corpus, load_source, merge_duplicates, split_of_keys
from training.corpus import main as corpus_main
from training.datasets.cleaning import text_key
from training.datasets.rules import apply_rules
from training.narratives import NARRATIVE_LABELS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NAN = float("nan")


def default_raw() -> dict[str, Any]:
    """default.toml without the narrative labels: these tests pin the toxicity sources' own annotations (the
    narrative labels come from labeling functions and their own sources, tested in tests/narratives)."""
    raw = without_labels(tomllib.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")), NARRATIVE_LABELS)
    for source in raw["sources"]:
        source.get("options", {}).pop("labeling_functions", None)
    return raw


def config_with(mutate: Any = None) -> TrainingConfig:
    raw = default_raw()
    if mutate is not None:
        mutate(raw)
    return parse_config(raw)


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures gzipped under the real file names, so default.toml can read them unchanged."""
    root = tmp_path_factory.mktemp("data")
    for path in FIXTURES.rglob("*"):
        if path.is_file() and path.suffix != ".md":
            target = root / path.relative_to(FIXTURES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            target.with_name(target.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    return root


@pytest.fixture(scope="module")
def corpus(fixture_root: Path) -> Corpus:
    """default.toml over the fixtures; the narrative sources have no fixtures here (tests/narratives covers them)."""
    return build_corpus(config_with(), data_root=fixture_root)


def labels_of(corpus: Corpus, source: str, text: str) -> dict[str, float]:
    rows = corpus.frame[(corpus.frame["source"] == source) & (corpus.frame["key"] == text_key(text))]
    assert len(rows) == 1, f"{source}: expected one row for {text!r}, got {len(rows)}"
    return {label: float(rows.iloc[0][label]) for label in corpus.labels}


def assert_labels(actual: dict[str, float], **expected: float) -> None:
    """Labels not named in ``expected`` must be unknown."""
    for label, value in actual.items():
        want = expected.get(label, NAN)
        assert (np.isnan(value) and np.isnan(want)) or value == want, f"{label}: {value} != {want}"


# ------------------------------------------------------------------------------ default rules on fixtures


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("davidson-hate-offensive", "you are a stupid hoe", {"toxicity": 1.0}),
        (
            "davidson-hate-offensive",
            '"those people should go back where they came from" 😂',
            {"toxicity": 1.0, "identity_attack": 1.0},
        ),
        # rows 6/7 tie on toxicity (unknown); identity is only known from row 6
        ("davidson-hate-offensive", "Good morning everyone", {"identity_attack": 0.0}),
        ("davidson-hate-offensive", "you people are animals", {"toxicity": 1.0, "identity_attack": 1.0}),
        ("olid", "What the hell was that supposed to mean", {"toxicity": 1.0, "profanity": 1.0}),
        ("olid", "You’re a clown!!! #Vote2024 👊", {"toxicity": 1.0, "insult": 1.0}),
        (
            "olid",
            "The bakery on Main Street is opening a second shop #Bread",
            {"toxicity": 0.0, "insult": 0.0, "profanity": 0.0, "identity_attack": 0.0},
        ),
        ("olid", "The council are all clowns !!!", {"toxicity": 1.0}),
        ("olid", "they are all criminals, send them back", {"toxicity": 1.0, "identity_attack": 1.0}),
        ("hatexplain", "you are a disgrace", {"toxicity": 1.0}),
        ("hatexplain", "those immigrants ruin everything", {"toxicity": 1.0, "identity_attack": 1.0}),
        ("hatexplain", "the weather is nice today", {"toxicity": 0.0, "identity_attack": 0.0}),
        ("hateval2019-tweeteval", "send them all back, they are rapefugees", {"identity_attack": 1.0}),
        # threat: 1 rater of 3, unknown
        (
            "toxic-spans",
            "You're an idiot, and I will find you.",
            {"toxicity": 1.0, "insult": 1.0, "profanity": 0.0, "identity_attack": 0.0},
        ),
        (
            "toxic-spans",
            "Damn, what a week. Sad news.",
            {"insult": 0.0, "identity_attack": 0.0, "threat": 0.0},
        ),
        (
            "toxic-spans",
            "Muslims are all terrorists and idiots",
            {"toxicity": 1.0, "identity_attack": 1.0, "profanity": 0.0, "threat": 0.0},
        ),
        (
            "gab-hate-corpus",
            "Somebody should shoot him,",
            {"identity_attack": 0.0, "threat": 1.0, "profanity": 0.0},
        ),
        ("gab-hate-corpus", "What a shitty day.", {"identity_attack": 0.0, "threat": 0.0, "profanity": 1.0}),
        (
            "stormfront-white-supremacy",
            "They are a plague on our nation and must be removed .",
            {"identity_attack": 1.0},
        ),
        (
            "abuseanalyzer-gab",
            "WATCHING THE GAME LIVE RIGHT NOW!",
            {"toxicity": 0.0, "severe_toxicity": 0.0, "threat": 0.0},
        ),
        (
            "abuseanalyzer-gab",
            "I fucking love it ! Sorry you idiot",
            {"toxicity": 1.0, "severe_toxicity": 0.0},
        ),
        (
            "abuseanalyzer-gab",
            "They should all be exterminated like rats",
            {"toxicity": 1.0, "severe_toxicity": 1.0, "threat": 1.0},
        ),
        ("abuseanalyzer-gab", "People like them always ruin it.", {"toxicity": 1.0}),
        (
            "mlma-hate-speech-en",
            "go back to your country you refugee scum",
            {"toxicity": 1.0, "identity_attack": 1.0},
        ),
        ("mlma-hate-speech-en", "have a lovely day 😂", {"toxicity": 0.0, "identity_attack": 0.0}),
        ("mlma-hate-speech-en", "you are a hateful troll", {"toxicity": 1.0}),
        (
            "convabuse",
            "I hate all of you people, die",
            {"toxicity": 1.0, "severe_toxicity": 1.0, "identity_attack": 1.0},
        ),
        ("convabuse", "hello there", {"toxicity": 0.0, "severe_toxicity": 0.0, "identity_attack": 0.0}),
        ("convabuse", "nice 😜", {"toxicity": 0.0, "severe_toxicity": 0.0, "identity_attack": 0.0}),
        # e1 (abusive, strong) and e6 (not abusive) share a key: toxicity ties, severe only known from e6
        ("convabuse", "you are stupid", {"severe_toxicity": 0.0, "identity_attack": 0.0}),
    ],
)
def test_default_rules_on_fixture_rows(
    corpus: Corpus, source: str, text: str, expected: dict[str, float]
) -> None:
    assert_labels(labels_of(corpus, source, text), **expected)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("davidson-hate-offensive", ""),  # only a mention and a URL
        ("hatexplain", "this post is in the official test split"),
        ("hatexplain", "nobody agreed on this one"),  # undecided
        ("stormfront-white-supremacy", "And that is what they did to the last one ."),  # relation
        ("stormfront-white-supremacy", "Whatever ."),  # idk/skip
        ("toxic-spans", "Nobody rated this one."),
        ("convabuse", "go and die"),  # exact tie
        ("mlma-hate-speech-en", "Another four years of this and the place is a dump."),  # mixed with normal
        ("hateval2019-tweeteval", ""),
    ],
)
def test_withheld_unlabeled_and_empty_rows_are_not_in_the_corpus(
    corpus: Corpus, source: str, text: str
) -> None:
    rows = corpus.frame[(corpus.frame["source"] == source) & (corpus.frame["key"] == text_key(text))]
    assert rows.empty


def test_corpus_shape_and_stats(corpus: Corpus) -> None:
    frame = corpus.frame
    assert list(frame.columns) == ["text", "key", "source", "split", *corpus.labels, "weight"]
    assert frame[corpus.labels].dtypes.map(lambda dtype: dtype.kind == "f").all()
    values = frame[corpus.labels].to_numpy()
    assert set(np.unique(values[~np.isnan(values)])) <= {0.0, 1.0}
    assert (frame["text"] != "").all() and (frame["key"] != "").all()
    assert not frame["text"].str.contains(r"@\w|http|\bURL\b|&amp;").any()
    stats = {stat.name: stat for stat in corpus.stats}
    davidson = stats["davidson-hate-offensive"]
    assert (davidson.loaded, davidson.empty_dropped, davidson.duplicates_merged) == (12, 1, 4)
    assert davidson.rows == 7
    assert stats["convabuse"].duplicates_merged == 1 and stats["convabuse"].unlabeled_dropped == 1
    assert stats["hatexplain"].loaded == 5 and stats["stormfront-white-supremacy"].unlabeled_dropped == 2
    assert (frame["weight"] == 1.0).all()


def test_within_source_duplicates_are_merged_but_cross_source_ones_kept(corpus: Corpus) -> None:
    frame = corpus.frame
    assert not frame.duplicated(["source", "key"]).any()
    shared = frame[frame["key"] == "you are a stupid hoe"]
    assert sorted(shared["source"]) == ["davidson-hate-offensive", "hatexplain"]
    assert shared["split"].nunique() == 1
    # "Don't you dare!" and the punctuation-stripped "dont you dare" share a key
    dare = frame[frame["key"] == "dont you dare"]
    assert sorted(dare["source"]) == ["davidson-hate-offensive", "hatexplain"]
    assert dare["split"].nunique() == 1


def test_no_key_is_in_both_splits(corpus: Corpus) -> None:
    splits_per_key = corpus.frame.groupby("key")["split"].nunique()
    assert (splits_per_key == 1).all()
    assert set(corpus.frame["split"]) <= {"train", "val"}


def test_dataset_records_fingerprint_every_file_and_count_rows(corpus: Corpus, fixture_root: Path) -> None:
    config = config_with()
    assert [record.name for record in corpus.datasets] == [source.name for source in config.enabled_sources]
    for record, source in zip(corpus.datasets, config.enabled_sources, strict=True):
        assert [item.path for item in record.files] == source.files
        for item in record.files:
            data = (fixture_root / item.path).read_bytes()
            assert item.sha256 == hashlib.sha256(data).hexdigest() and item.bytes == len(data)
        rows = corpus.frame[corpus.frame["source"] == record.name]
        assert record.rows == len(rows) == sum(record.rows_by_split.values())
        assert record.rows_by_split == {s: int((rows["split"] == s).sum()) for s in ("train", "val")}
        assert set(record.labels) == set(source.labels)
        for label, counts in record.labels.items():
            expected = {"positive": int((rows[label] == 1).sum()), "negative": int((rows[label] == 0).sum())}
            assert counts == expected


def test_fingerprints_change_with_the_data(fixture_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(fixture_root, root)
    config = config_with(lambda raw: raw.update(sources=[s for s in raw["sources"] if s["name"] == "olid"]))
    before = build_corpus(config, data_root=root).datasets[0].files[0]
    path = root / "olid/olid-training-v1.0.tsv.gz"
    extra_row = b"1\tanother tweet\tNOT\tNULL\tNULL\r\n"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + extra_row))
    after = build_corpus(config, data_root=root).datasets[0].files[0]
    assert before.sha256 != after.sha256 and before.bytes != after.bytes


def test_build_is_deterministic_and_reports_progress(corpus: Corpus, fixture_root: Path) -> None:
    lines: list[str] = []
    again = build_corpus(config_with(), data_root=fixture_root, progress=lines.append)
    pd.testing.assert_frame_equal(corpus.frame, again.frame)
    assert [record.model_dump() for record in corpus.datasets] == [r.model_dump() for r in again.datasets]
    assert len(lines) == len(corpus.datasets)
    assert lines[0].startswith("davidson-hate-offensive: 12 loaded")


def test_disabled_sources_weights_and_unlabeled_rows(fixture_root: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        for source in raw["sources"]:
            source["enabled"] = source["name"] in {"stormfront-white-supremacy", "gab-hate-corpus"}
            source["weight"] = 2.5
        raw["data"]["drop_unlabeled"] = False

    corpus = build_corpus(config_with(mutate), data_root=fixture_root)
    assert set(corpus.frame["source"]) == {"stormfront-white-supremacy", "gab-hate-corpus"}
    assert (corpus.frame["weight"] == 2.5).all()
    storm = corpus.frame[corpus.frame["source"] == "stormfront-white-supremacy"]
    assert len(storm) == 5 and storm["identity_attack"].isna().sum() == 2  # relation, idk kept as unknown


def test_missing_files_fail_before_anything_is_loaded(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        build_corpus(load_config(DEFAULT_CONFIG_PATH), data_root=tmp_path)
    message = str(excinfo.value)
    assert "olid/olid-training-v1.0.tsv.gz" in message and str(tmp_path) in message


def test_conflicting_rules_fail_the_build(fixture_root: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["sources"] = [s for s in raw["sources"] if s["name"] == "olid"]
        raw["sources"][0]["labels"]["toxicity"] = {"positive": "subtask_a == 'OFF'", "negative": "id != ''"}

    with pytest.raises(ConfigError, match="source 'olid', label 'toxicity'"):
        build_corpus(config_with(mutate), data_root=fixture_root)


def test_reviewer_exports_join_by_config_alone(fixture_root: Path) -> None:
    exports = [
        {
            "name": "review-csv",
            "loader": "csv",
            "files": ["reviewer-exports/labels.csv"],
            "labels": {
                "toxicity": {"positive": "toxicity == 1", "negative": "toxicity == 0"},
                "insult": {"positive": "insult == 1", "negative": "insult == 0"},
            },
        },
        {
            "name": "review-jsonl",
            "loader": "jsonl",
            "files": ["reviewer-exports/labels.jsonl.gz"],
            "text_field": "comment",
            "labels": {
                "toxicity": {"positive": "toxicity == 1", "negative": "toxicity == 0"},
                "threat": {"positive": "threat == 1", "negative": "threat == 0"},
            },
        },
    ]
    corpus = build_corpus(config_with(lambda raw: raw.update(sources=exports)), data_root=fixture_root)
    assert_labels(labels_of(corpus, "review-csv", "you absolute clown"), toxicity=1.0, insult=1.0)
    assert_labels(labels_of(corpus, "review-csv", "Thanks for the thoughtful reply"), toxicity=0.0)
    assert_labels(labels_of(corpus, "review-jsonl", "go away troll"), toxicity=1.0)
    assert_labels(labels_of(corpus, "review-jsonl", "i will hurt you"), toxicity=1.0, threat=1.0)
    assert "maybe" not in set(corpus.frame["text"])  # no label known


# ------------------------------------------------------------------------------------------- split & merge


def test_split_is_a_function_of_key_and_seed_with_the_requested_fraction() -> None:
    keys = pd.Series([f"text number {i}" for i in range(6000)])
    first = split_of_keys(keys, val_fraction=0.15, seed=13)
    assert (first == split_of_keys(keys, val_fraction=0.15, seed=13)).all()
    assert abs((first == "val").mean() - 0.15) < 0.015
    assert (first != split_of_keys(keys, val_fraction=0.15, seed=14)).any()
    assert abs((split_of_keys(keys, val_fraction=0.3, seed=13) == "val").mean() - 0.3) < 0.02
    shuffled = keys.sample(frac=1.0, random_state=0)
    assert (split_of_keys(shuffled, val_fraction=0.15, seed=13) == first[shuffled.index]).all()


def test_val_fraction_holds_per_source(tmp_path: Path) -> None:
    for name, n in (("a", 3000), ("b", 1500)):
        lines = ["text,toxicity", *(f"source {name} comment {i},{i % 2}" for i in range(n))]
        (tmp_path / f"{name}.csv").write_text("\n".join(lines) + "\n")
    rule = {"toxicity": {"positive": "toxicity == 1", "negative": "toxicity == 0"}}
    sources = [{"name": name, "loader": "csv", "files": [f"{name}.csv"], "labels": rule} for name in "ab"]
    corpus = build_corpus(config_with(lambda raw: raw.update(sources=sources)), data_root=tmp_path)
    for record in corpus.datasets:
        assert abs(record.rows_by_split["val"] / record.rows - 0.15) < 0.03, record


def test_merge_duplicates_majority_and_ties() -> None:
    frame = pd.DataFrame(
        {
            "text": ["A!", "a", "a.", "b", "b", "c"],
            "key": ["a", "a", "a", "b", "b", "c"],
            "x": [1.0, 1.0, 0.0, 1.0, 0.0, NAN],
            "y": [NAN, NAN, 0.0, NAN, NAN, 1.0],
        }
    )
    merged = merge_duplicates(frame, ["x", "y"])
    assert merged["text"].tolist() == ["A!", "b", "c"]  # first text kept, first-seen order
    np.testing.assert_array_equal(merged["x"], [1.0, NAN, NAN])  # 2-1 majority; 1-1 tie; all unknown
    np.testing.assert_array_equal(merged["y"], [0.0, NAN, 1.0])  # unknowns do not vote


# ------------------------------------------------------------------------------------------ the real data

# Row counts the loaders must return, from each folder's PROVENANCE.md.
PROVENANCE_ROWS = {
    "davidson-hate-offensive": 24_783,
    "olid": 13_240,
    "hatexplain": 15_383 + 1_922,  # official train + val ids; undecided posts are in no split
    "hateval2019-tweeteval": 9_000 + 1_000,
    "toxic-spans": 14_095,  # comments in the shared (test-filtered) raw file
    "gab-hate-corpus": 2_581,
    "stormfront-white-supremacy": 10_944,
    "abuseanalyzer-gab": 7_601,
    "mlma-hate-speech-en": 5_647,
    "convabuse": 2_501 + 831,
}

# (source, label) -> (positives, negatives) under the default rules before cleaning and dedup (PROVENANCE.md)
PROVENANCE_LABELS: dict[tuple[str, str], tuple[int | None, int | None]] = {
    ("davidson-hate-offensive", "toxicity"): (1_430 + 19_190, 4_163),
    ("davidson-hate-offensive", "identity_attack"): (1_430, 4_163),
    ("olid", "toxicity"): (4_400, 8_840),
    ("olid", "insult"): (2_407, 8_840),
    ("olid", "profanity"): (524, 8_840),
    ("olid", "identity_attack"): (1_074, 8_840),
    ("hatexplain", "toxicity"): (4_748 + 593 + 4_384 + 548, 6_251 + 781),
    ("hatexplain", "identity_attack"): (4_748 + 593, 6_251 + 781),
    ("hateval2019-tweeteval", "identity_attack"): (3_783 + 427, 5_217 + 573),
    ("gab-hate-corpus", "identity_attack"): (224, 2_581 - 224),
    ("gab-hate-corpus", "threat"): (12, 2_581 - 12),
    ("gab-hate-corpus", "profanity"): (167, 2_581 - 167),
    ("stormfront-white-supremacy", "identity_attack"): (1_196, 9_507),
    ("abuseanalyzer-gab", "toxicity"): (4_120, 3_481),
    ("abuseanalyzer-gab", "severe_toxicity"): (483, 3_481 + 1_830),
    ("abuseanalyzer-gab", "threat"): (483, 3_481),
    ("mlma-hate-speech-en", "toxicity"): (None, 661),  # positives: no "normal" at all (not in PROVENANCE)
    ("convabuse", "toxicity"): (338 + 112, None),  # majority abusive, train + valid
}


@pytest.fixture(scope="module")
def real_corpus() -> Corpus:
    if not (REAL_DATA / "README.md").is_file():
        pytest.skip(f"shared data folder {REAL_DATA} is not present")
    return build_corpus(load_config(DEFAULT_CONFIG_PATH), data_root=REAL_DATA)


def test_real_data_row_counts_match_provenance(real_corpus: Corpus) -> None:
    loaded = {stat.name: stat.loaded for stat in real_corpus.stats if stat.name in PROVENANCE_ROWS}
    assert loaded == PROVENANCE_ROWS
    for record in real_corpus.datasets:
        share = record.rows_by_split["val"] / record.rows
        assert abs(share - 0.15) < 0.03, f"{record.name}: validation share {share:.3f}"
        assert all(len(item.sha256) == 64 and item.bytes > 0 for item in record.files)
    assert (real_corpus.frame.groupby("key")["split"].nunique() == 1).all()


def test_real_data_label_counts_match_provenance() -> None:
    if not (REAL_DATA / "README.md").is_file():
        pytest.skip(f"shared data folder {REAL_DATA} is not present")
    config = load_config(DEFAULT_CONFIG_PATH)
    for name in sorted({source for source, _ in PROVENANCE_LABELS}):
        source = config.source(name)
        labelled = apply_rules(load_source(source, REAL_DATA), source, config.labels)
        for (source_name, label), (positives, negatives) in PROVENANCE_LABELS.items():
            if source_name != name:
                continue
            if positives is not None:
                assert int((labelled[label] == 1).sum()) == positives, (name, label)
            if negatives is not None:
                assert int((labelled[label] == 0).sum()) == negatives, (name, label)


def test_real_data_every_label_has_positives_and_negatives(real_corpus: Corpus) -> None:
    for label in real_corpus.labels:
        per_source = real_corpus.frame.groupby("source")[label]
        both = [s for s, values in per_source if (values == 1).any() and (values == 0).any()]
        assert both, f"no source gives {label} both positives and negatives"
        for split in ("train", "val"):
            values = real_corpus.split(split)[label]
            assert (values == 1).sum() > 0 and (values == 0).sum() > 0, (label, split)


def test_real_data_cleaning_leaves_no_placeholders(real_corpus: Corpus) -> None:
    text = real_corpus.frame["text"]
    for pattern in (r"@\w", r"https?://", r"\bURL\b", r"&(?:amp|quot|lt|gt|#\d+);", r"<user>", r"\bRT @"):
        assert not text.str.contains(pattern, regex=True).any(), pattern
    hatexplain = real_corpus.frame[real_corpus.frame["source"] == "hatexplain"]["text"]
    assert not hatexplain.str.contains(r"^user\b|\buser user\b", regex=True).any()


def test_copy_of_default_config_is_not_mutated_by_builds(fixture_root: Path) -> None:
    config = config_with()
    snapshot = copy.deepcopy(config.model_dump())
    build_corpus(config, data_root=fixture_root)
    assert config.model_dump() == snapshot


def test_command_line_prints_the_summary_or_the_missing_files(
    fixture_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "davidson.toml"
    config.write_text(
        '[model]\nname = "t"\nversion = "0"\nlabels = ["toxicity", "identity_attack"]\n'
        '[[sources]]\nname = "davidson-hate-offensive"\nloader = "davidson"\n'
        'files = ["davidson-hate-offensive/labeled_data.csv.gz"]\ntext_field = "tweet"\n[sources.labels]\n'
        'toxicity = { positive = "`class` in [0, 1]", negative = "`class` == 2" }\n',
        encoding="utf-8",
    )
    assert corpus_main(["--config", str(config), "--data-root", str(fixture_root)]) == 0
    out = capsys.readouterr().out
    assert "davidson-hate-offensive: 12 loaded" in out and "total rows" in out
    assert corpus_main(["--data-root", str(tmp_path)]) == 2
    assert "missing under data root" in capsys.readouterr().err


def test_without_labels_removes_them_everywhere_and_leaves_the_input_alone() -> None:
    raw = tomllib.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["augmentation"] = {"reported_copies": {"labels": ["atrocity_denial"], "copies_per_row": 1}}
    stripped = without_labels(raw, ["atrocity_denial", "conspiracy"])
    assert "atrocity_denial" in raw["model"]["labels"] and raw["augmentation"]["reported_copies"]  # a copy
    assert stripped["model"]["labels"] == ["toxicity", "severe_toxicity", "identity_attack", "insult", "profanity",
                                           "threat"]
    assert not {"atrocity_denial", "conspiracy"} & set(stripped["classifier"].get("per_label", {}))
    names = {source["name"] for source in stripped["sources"]}
    assert "olid" in names and not {"euvsdisinfo", "semeval_persuasion"} & names
    assert all(set(source["labels"]) <= set(stripped["model"]["labels"]) for source in stripped["sources"])
    assert "reported_copies" not in stripped.get("augmentation", {})
    assert parse_config(stripped).labels == stripped["model"]["labels"]
