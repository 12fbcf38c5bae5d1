"""Loaders, cleaning, label rules, the loader registry and config validation, on hand-written fixtures."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import training.datasets as datasets
from training.config import (
    DATA_ROOT_ENV,
    DEFAULT_CONFIG_PATH,
    REPO_ROOT,
    ConfigError,
    SourceConfig,
    load_config,
    parse_config,
)
from training.datasets import LoaderError, available_loaders, get_loader, loader_exists
from training.datasets.cleaning import clean_text, decode_literal_unicode_escapes, remove_words, text_key
from training.datasets.rules import apply_rules

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
LABELS = ["toxicity", "severe_toxicity", "identity_attack", "insult", "profanity", "threat"]
OUR_LOADERS = {
    "davidson",
    "olid",
    "hatexplain",
    "hateval",
    "toxic_spans",
    "gab_hate_corpus",
    "stormfront",
    "abuseanalyzer",
    "mlma",
    "convabuse",
    "csv",
    "jsonl",
}


def make_source(loader: str, files: list[str], **fields: Any) -> SourceConfig:
    return SourceConfig(
        name=fields.pop("name", loader.replace("_", "-")), loader=loader, files=files, **fields
    )


def run_loader(loader: str, files: list[str], root: Path = FIXTURES, **fields: Any) -> pd.DataFrame:
    return get_loader(loader)(make_source(loader, files, **fields), root)


def row_by(frame: pd.DataFrame, column: str, value: Any) -> pd.Series:
    matches = frame[frame[column] == value]
    assert len(matches) == 1, f"expected one row with {column} == {value!r}, got {len(matches)}"
    return matches.iloc[0]


# ----------------------------------------------------------------------------------------------- registry


def test_registry_lists_every_loader_and_no_helper() -> None:
    names = set(available_loaders())
    assert names >= OUR_LOADERS
    assert not names & {"cleaning", "rules", "_io"}
    assert all(loader_exists(name) for name in OUR_LOADERS)
    assert not loader_exists("cleaning")
    assert not loader_exists("no_such_loader")
    assert not loader_exists("../etc")


def test_registry_picks_up_a_new_module_without_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tiny_source.py").write_text(
        "import pandas as pd\n\ndef load(source, data_root):\n    return pd.DataFrame({'text': ['hi']})\n"
    )
    monkeypatch.setattr(datasets, "__path__", [*datasets.__path__, str(tmp_path)])
    importlib.invalidate_caches()
    assert "tiny_source" in available_loaders()
    frame = get_loader("tiny_source")(make_source("tiny_source", ["x"]), tmp_path)
    assert frame["text"].tolist() == ["hi"]


def test_unknown_loader_is_an_error_naming_the_available_ones() -> None:
    with pytest.raises(LoaderError, match="davidson"):
        get_loader("nope")


# ----------------------------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RT @someone: you are a clown http://t.co/abc", "you are a clown"),
        ("!!! RT @a_b: hi &amp; bye", "!!! hi & bye"),
        ("@USER @USER Go home URL", "Go home"),
        ("@user hello @usermention there @URL", "hello there"),
        ("<user> <user> what a day <url>", "what a day"),
        ("so funny &amp;#128514;", "so funny 😂"),
        ("read www.example.com/page and https://x.y/z?q=1 now", "read and now"),
        ("truncated link http…", "truncated link"),
        ("glued to a wordhttps://x.y/z and on", "glued to a word and on"),
        ("mail me at anna.b@example.co.uk!", "mail me at !"),
        (".@handle glued@handle2 ok", ". glued ok"),
        ("  spaced\n\tout   text ", "spaced out text"),
        ("The URL shortener and a url", "The shortener and a url"),
        ("@only_mentions @here", ""),
    ],
)
def test_clean_text_removes_platform_artefacts(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_text_key_matches_across_punctuation_case_and_compatibility_forms() -> None:
    assert text_key("Don't you DARE!!") == text_key("dont you dare") == "dont you dare"
    assert text_key("ｆｕｌｌ　ｗｉｄｔｈ") == "full width"
    assert text_key("STRASSE") == text_key("straße")
    assert text_key("snake_case—and…dots") == "snake case and dots"
    assert text_key("😂😂") == ""
    assert text_key("you are a clown") != text_key("you are a clow n")


def test_source_specific_helpers() -> None:
    assert decode_literal_unicode_escapes("plan t\\u2026 ok \\ud83d\\ude02") == "plan t… ok 😂"
    assert remove_words("user user he said user is a username", ["user"]) == "he said is a username"
    assert remove_words("unchanged", []) == "unchanged"


# ------------------------------------------------------------------------------------------------ loaders


def test_davidson_reads_votes_and_multiline_tweets() -> None:
    frame = run_loader("davidson", ["davidson-hate-offensive/labeled_data.csv"], text_field="tweet")
    assert len(frame) == 12
    assert frame["class"].tolist() == [2, 1, 0, 2, 1, 2, 2, 1, 0, 0, 2, 2]
    assert "a tweet with an\nembedded newline" in frame["text"].tolist()
    assert set(frame.columns) >= {"text", "class", "hate_speech", "offensive_language", "neither", "count"}


def test_olid_keeps_unbalanced_quotes_and_maps_null_to_missing() -> None:
    frame = run_loader("olid", ["olid/olid-training-v1.0.tsv"])  # text_field defaults to the loader's "tweet"
    assert len(frame) == 6
    assert frame["subtask_a"].value_counts().to_dict() == {"OFF": 5, "NOT": 1}
    not_row = row_by(frame, "id", "16820")
    assert pd.isna(not_row["subtask_b"]) and pd.isna(not_row["subtask_c"])
    assert "piece of shit" in row_by(frame, "id", "62688")["text"]
    assert row_by(frame, "id", "52415")["subtask_c"] == "GRP"


def test_hatexplain_keeps_only_requested_divisions_and_strips_placeholder_words() -> None:
    files = ["hatexplain/092-HateXplain_mbib_majority.csv", "hatexplain/post_id_divisions.json"]
    frame = run_loader("hatexplain", files)
    assert set(frame["post_id"]) == {"1_twitter", "2_gab", "3_gab", "6_gab", "7_gab"}  # no test, no undecided
    assert row_by(frame, "post_id", "1_twitter")["text"] == "you are a disgrace"
    assert row_by(frame, "post_id", "3_gab")["text"] == "those immigrants ruin everything"
    assert row_by(frame, "post_id", "3_gab")["category"] == "hatespeech"
    assert row_by(frame, "post_id", "3_gab")["division"] == "val"
    train_only = run_loader("hatexplain", files, options={"splits": ["train"], "placeholder_words": []})
    assert "3_gab" not in set(train_only["post_id"])
    assert row_by(train_only, "post_id", "1_twitter")["text"].strip() == "user user you are a disgrace user"
    with pytest.raises(LoaderError, match="no division"):
        run_loader("hatexplain", files, options={"splits": ["dev"]})


def test_hateval_pairs_text_and_label_files(tmp_path: Path) -> None:
    files = [f"hateval2019-tweeteval/{s}_{k}.txt" for s in ("train", "val") for k in ("text", "labels")]
    frame = run_loader("hateval", files)
    assert len(frame) == 5
    assert frame["label"].tolist() == [0, 1, 0, 1, 1]
    assert frame["split"].tolist() == ["train"] * 3 + ["val"] * 2
    assert frame["text"][1] == "send them all back, they are rapefugees "
    (tmp_path / "x_text.txt").write_text("one\ntwo\n")
    (tmp_path / "x_labels.txt").write_text("1\n")
    with pytest.raises(LoaderError, match="2 lines"):
        run_loader("hateval", ["x_text.txt", "x_labels.txt"], root=tmp_path)
    with pytest.raises(LoaderError, match="pairs"):
        run_loader("hateval", ["x_text.txt"], root=tmp_path)


def test_toxic_spans_aggregates_raters_per_post() -> None:
    files = ["toxic-spans/comments.csv", "toxic-spans/annotations.csv", "toxic-spans/spans.csv"]
    frame = run_loader("toxic_spans", files, text_field="comment_text")
    assert len(frame) == 4
    post = row_by(frame, "comment_id", "100")  # raters 1 and 2 highlight (Insult; rater 1 also Threat)
    assert post["n_annotators"] == 3 and post["span_n"] == 2
    assert post["insult_n"] == 2 and post["threat_n"] == 1 and post["profane_n"] == 0
    assert math.isclose(post["span_frac"], 2 / 3) and math.isclose(post["threat_frac"], 1 / 3)
    assert math.isclose(post["all_toxic_frac"], 1 / 3)
    post = row_by(frame, "comment_id", "102")  # truncated "Identity based" / "Insu" and an untyped span
    assert post["identity_attack_n"] == 3 and post["insult_n"] == 1 and post["span_n"] == 3
    unrated = row_by(frame, "comment_id", "103")
    assert unrated["n_annotators"] == 0
    assert np.isnan(unrated["insult_n"]) and np.isnan(unrated["span_frac"])


def test_gab_stormfront_abuseanalyzer_columns() -> None:
    gab = run_loader("gab_hate_corpus", ["gab-hate-corpus/ghc_majority25k_dev.jsonl"])
    assert len(gab) == 4
    assert gab[["hd", "cv", "vo"]].sum().to_dict() == {"hd": 1, "cv": 1, "vo": 1}

    files = ["stormfront-white-supremacy/stormfront_sentences.csv"]
    storm = run_loader("stormfront", files)
    assert storm["label"].tolist() == ["noHate", "hate", "relation", "idk/skip", "noHate"]
    assert len(run_loader("stormfront", files, options={"exclude_sampled": ["test"]})) == 4

    abuse = run_loader("abuseanalyzer", ["abuseanalyzer-gab/AbuseAnalyzer_Dataset.tsv"])
    assert abuse["abusive"].tolist() == [1, 2, 2, 2]
    assert np.isnan(abuse["severity"][0]) and abuse["severity"][1:].tolist() == [1.0, 3.0, 2.0]
    assert pd.isna(abuse["target"][0]) and abuse["target"][1] == "1-3"


def test_mlma_restores_escapes_and_splits_hostility_types() -> None:
    frame = run_loader("mlma", ["mlma-hate-speech-en/en_dataset_with_stop_words.csv"])
    assert len(frame) == 5
    assert frame["text"][1] == 'Calling people "retarded" is not a joke . I plan t… @URL'
    assert frame["text"][3].endswith("😂")
    mixed = frame.iloc[0]
    assert mixed["normal"] == 1 and mixed["hateful"] == 1 and mixed["n_hostile"] == 4
    assert frame["n_hostile"].tolist() == [4, 1, 1, 0, 2]


def test_convabuse_votes_per_annotator() -> None:
    files = ["convabuse/ConvAbuseEMNLPtrain.csv", "convabuse/ConvAbuseEMNLPvalid.csv"]
    frame = run_loader("convabuse", files)
    assert frame["example_id"].tolist() == ["e1", "e2", "e3", "e4", "e5", "e6"]
    e1 = row_by(frame, "example_id", "e1")
    assert e1["n_annotators"] == 3
    assert math.isclose(e1["abuse_frac"], 2 / 3) and math.isclose(e1["strong_frac"], 1 / 3)
    assert math.isclose(e1["intellectual_frac"], 2 / 3) and e1["identity_frac"] == 0
    assert math.isclose(e1["severity_mean"], (2 + 1 + 0) / 3)
    e2 = row_by(frame, "example_id", "e2")
    assert e2["n_annotators"] == 2 and e2["not_abuse_frac"] == 1.0
    e3 = row_by(frame, "example_id", "e3")
    assert math.isclose(e3["very_strong_frac"], 2 / 3) and math.isclose(e3["identity_frac"], 2 / 3)
    e4 = row_by(frame, "example_id", "e4")  # annotator 1 answered "1" once and "-3" once: half a vote each
    assert math.isclose(e4["abuse_frac"], 0.5) and math.isclose(e4["not_abuse_frac"], 0.5)
    assert row_by(frame, "example_id", "e5")["text"] == "nice 😜"


def test_convabuse_rejects_an_unexpected_header(tmp_path: Path) -> None:
    text = (FIXTURES / "convabuse/ConvAbuseEMNLPvalid.csv").read_text()
    (tmp_path / "bad.csv").write_text(text.replace("Annotator1_racist", "Annotator1_rude", 1))
    with pytest.raises(LoaderError, match="block 1"):
        run_loader("convabuse", ["bad.csv"], root=tmp_path)


def test_generic_csv_and_jsonl_loaders() -> None:
    frame = run_loader("csv", ["reviewer-exports/labels.csv"])
    assert frame["toxicity"].tolist()[:2] == [0.0, 1.0] and np.isnan(frame["toxicity"][2])
    assert np.isnan(frame["insult"][0]) and frame["insult"][1] == 1.0
    assert frame["reviewer"].tolist() == ["alice", "bob", "carol"]  # non-numeric column left as text
    with pytest.raises(LoaderError, match="non-numeric"):
        run_loader("csv", ["reviewer-exports/labels.csv"], options={"label_columns": ["reviewer"]})

    frame = run_loader("jsonl", ["reviewer-exports/labels.jsonl"], text_field="comment")
    assert frame["text"].tolist() == ["go away troll", "see you tomorrow", "i will hurt you"]
    assert frame["toxicity"].tolist() == [1.0, 0.0, 1.0]  # true -> 1
    assert np.isnan(frame["threat"][0]) and frame["threat"][1:].tolist() == [0.0, 1.0]


def test_missing_text_field_is_a_loader_error() -> None:
    with pytest.raises(LoaderError, match="lacks column"):
        run_loader("csv", ["reviewer-exports/labels.csv"], text_field="body")


# -------------------------------------------------------------------------------------------------- rules


def rules_source(labels: dict[str, dict[str, str]]) -> SourceConfig:
    return make_source("csv", ["x.csv"], labels=labels)


def test_rules_give_positive_negative_and_unknown() -> None:
    frame = pd.DataFrame({"text": list("abcd"), "score": [3, 0, 1, np.nan], "kind": ["x", "y", "x", None]})
    source = rules_source({"toxicity": {"positive": "score >= 2", "negative": "score == 0"}})
    labelled = apply_rules(frame, source, LABELS)
    assert list(labelled.columns) == LABELS
    np.testing.assert_array_equal(labelled["toxicity"].to_numpy(), [1.0, 0.0, np.nan, np.nan])
    assert labelled.drop(columns="toxicity").isna().all().all()  # a label without a rule is unknown

    source = rules_source({"insult": {"positive": "kind in ['x']"}})  # positives-only rule
    np.testing.assert_array_equal(apply_rules(frame, source, LABELS)["insult"], [1.0, np.nan, 1.0, np.nan])


def test_a_row_matching_both_rules_is_a_config_error_naming_source_and_label() -> None:
    frame = pd.DataFrame({"text": ["a", "b"], "score": [1, 2]})
    source = rules_source({"threat": {"positive": "score >= 1", "negative": "score <= 1"}})
    with pytest.raises(ConfigError, match=r"source 'csv', label 'threat': 1 row\(s\) match both"):
        apply_rules(frame, source, LABELS)


def test_rules_over_missing_columns_or_non_booleans_are_config_errors() -> None:
    frame = pd.DataFrame({"text": ["a"], "score": [1]})
    with pytest.raises(ConfigError, match=r"label 'insult', positive.*columns \['text', 'score'\]"):
        apply_rules(frame, rules_source({"insult": {"positive": "scroe == 1"}}), LABELS)
    with pytest.raises(ConfigError, match="boolean"):
        apply_rules(frame, rules_source({"insult": {"positive": "score + 1"}}), LABELS)


# ------------------------------------------------------------------------------------------------- config


def minimal_config(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "model": {"name": "m", "version": "1", "labels": ["toxicity", "insult"]},
        "sources": [
            {
                "name": "exports",
                "loader": "csv",
                "files": ["reviewer-exports/labels.csv"],
                "labels": {"toxicity": {"positive": "toxicity == 1", "negative": "toxicity == 0"}},
            }
        ],
    }
    raw.update(overrides)
    return raw


def test_default_config_loads_and_declares_every_toxicity_source() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    narrative = ["atrocity_denial", "conspiracy"]  # issue 7: experimental labels with their own two sources
    assert config.labels == LABELS + narrative
    assert config.path == DEFAULT_CONFIG_PATH.resolve()
    loaders = {source.loader for source in config.sources}
    assert loaders == (OUR_LOADERS - {"csv", "jsonl"}) | {"euvsdisinfo", "semeval_persuasion"}
    assert config.data.val_fraction == 0.15 and config.data.seed == 13
    assert set(config.model.label_info) == set(LABELS + narrative)
    assert all(config.model.label_info[label].experimental for label in narrative)
    assert not any(config.model.label_info[label].experimental for label in LABELS)
    for source in config.sources:
        assert source.labels, f"{source.name} declares no label"
        assert not any("test" in Path(name).name for name in source.files), "official test files are withheld"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda raw: raw["sources"][0]["labels"].update({"spam": {"positive": "x == 1"}}),
            "not in model.labels",
        ),
        (lambda raw: raw["sources"][0].update({"loader": "nonexistent"}), "unknown loader 'nonexistent'"),
        (
            lambda raw: raw["sources"][0]["labels"].update({"insult": {"positive": "x =="}}),
            "invalid expression",
        ),
        (
            lambda raw: raw["sources"][0]["labels"].update({"insult": {}}),
            "needs a 'positive' or a 'negative'",
        ),
        (lambda raw: raw["sources"].append(dict(raw["sources"][0])), "duplicate source names"),
        (lambda raw: raw["sources"][0].update({"wieght": 2}), "wieght"),
        (lambda raw: raw["sources"][0].update({"files": ["/abs/path.csv"]}), "relative to the data root"),
        (lambda raw: raw["model"].update({"label_info": {"threat": {}}}), "not in model.labels"),
        (lambda raw: raw.update({"data": {"val_fraction": 1.5}}), "val_fraction"),
    ],
)
def test_invalid_configs_are_rejected_with_a_clear_message(mutate: Any, message: str) -> None:
    raw = minimal_config()
    mutate(raw)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_backtick_names_are_accepted_in_rules() -> None:
    raw = minimal_config()
    raw["sources"][0]["labels"]["insult"] = {"positive": "`class` in [0, 1]"}
    assert parse_config(raw).sources[0].labels["insult"].positive == "`class` in [0, 1]"


def test_missing_files_name_the_path_and_the_data_root(tmp_path: Path) -> None:
    config = parse_config(minimal_config())
    config.check_files(FIXTURES)  # present: no error
    with pytest.raises(ConfigError) as excinfo:
        config.check_files(tmp_path)
    assert "reviewer-exports/labels.csv" in str(excinfo.value)
    assert str(tmp_path) in str(excinfo.value)


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[model\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    (tmp_path / "ok.toml").write_text(
        '[model]\nname = "m"\nversion = "1"\nlabels = ["toxicity"]\n[[sources]]\nname = "s"\nloader = "csv"\n'
        'files = ["nowhere.csv"]\n[sources.labels]\ntoxicity = { positive = "toxicity == 1" }\n'
    )
    assert load_config(tmp_path / "ok.toml").sources[0].name == "s"
    with pytest.raises(ConfigError, match=r"nowhere\.csv"):
        load_config(tmp_path / "ok.toml", data_root=tmp_path, check_files=True)


def test_data_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(minimal_config(data={"root": "../shared/data"}))
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert config.resolve_data_root() == (REPO_ROOT / "../shared/data").resolve()  # against the repo, not cwd
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert config.resolve_data_root() == tmp_path / "env"
    assert config.resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    absolute = parse_config(minimal_config(data={"root": str(tmp_path / "abs")}))
    monkeypatch.delenv(DATA_ROOT_ENV)
    assert absolute.resolve_data_root() == tmp_path / "abs"
