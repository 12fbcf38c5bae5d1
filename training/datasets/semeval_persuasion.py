"""SemEval-2023 Task 3 subtask 3: news paragraphs with persuasion techniques (``semeval2023_t3_persuasion``).

Reads the derived JSON-lines files (``semeval2023_t3_st3_<lang>_<split>.jsonl(.gz)``, fields ``article_id``,
``paragraph_id``, ``text``, ``labels``). Language and split come from the file name; options ``languages``
(default ``["en"]``: the featurizer and the narrative LFs are English) and ``splits`` (default both) filter.

Columns returned:

- ``text``, ``article_id``, ``paragraph_id``, ``language``, ``split``;
- ``techniques`` (``|``-joined technique names, empty when none) and ``n_techniques``;
- one boolean ``t_<technique>`` per technique of the task inventory, in snake case (``t_doubt``,
  ``t_name_calling_labeling``, ``t_loaded_language``...), so label rules stay plain identifiers;
- ``lf_atrocity_denial``, ``lf_conspiracy``, ``narrative_pattern``, ``atrocity_context`` from
  :func:`training.narratives.labeling_functions.lf_columns`.

A paragraph with no technique is not automatically free of narratives (some say "this was a false flag" with no
technique annotated), which is why the LF columns are there for the rules to exclude such rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from training.config import SourceConfig
from training.datasets import LoaderError
from training.datasets._io import option_list, read_jsonl, require_columns, source_files
from training.datasets.cleaning import clean_texts
from training.narratives.labeling_functions import lf_columns

TECHNIQUES: tuple[str, ...] = (
    "Appeal_to_Authority",
    "Appeal_to_Popularity",
    "Appeal_to_Values",
    "Appeal_to_Fear-Prejudice",
    "Flag_Waving",
    "Causal_Oversimplification",
    "False_Dilemma-No_Choice",
    "Consequential_Oversimplification",
    "Straw_Man",
    "Red_Herring",
    "Whataboutism",
    "Slogans",
    "Appeal_to_Time",
    "Conversation_Killer",
    "Loaded_Language",
    "Repetition",
    "Exaggeration-Minimisation",
    "Obfuscation-Vagueness-Confusion",
    "Name_Calling-Labeling",
    "Doubt",
    "Guilt_by_Association",
    "Appeal_to_Hypocrisy",
    "Questioning_the_Reputation",
)
_FILE_NAME = re.compile(r"_(?P<language>[a-z]{2})_(?P<split>train|dev)\.jsonl(?:\.gz)?$")


def technique_column(name: str) -> str:
    """``Name_Calling-Labeling`` -> ``t_name_calling_labeling``."""
    return "t_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def load(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    """Paragraphs of the selected languages and splits with technique and labeling-function columns."""
    languages = option_list(source, "languages", ["en"])
    splits = option_list(source, "splits", ["train", "dev"])
    frames = []
    for path in source_files(source, data_root):
        match = _FILE_NAME.search(path.name)
        if match is None:
            raise LoaderError(
                f"source {source.name!r}: {path.name} is not a derived subtask-3 file "
                f"(expected a name like semeval2023_t3_st3_en_train.jsonl.gz)"
            )
        if match["language"] not in languages or match["split"] not in splits:
            continue
        frame = read_jsonl(path)
        require_columns(frame, ["article_id", "paragraph_id", "text", "labels"], source=source, path=path)
        frame = frame.assign(language=match["language"], split=match["split"])
        frames.append(frame)
    if not frames:
        raise LoaderError(f"source {source.name!r}: no file matches languages {languages} and splits {splits}")
    frame = pd.concat(frames, ignore_index=True)
    frame["text"] = frame["text"].fillna("").astype(str)
    frame["article_id"] = frame["article_id"].astype(str)
    frame["paragraph_id"] = pd.to_numeric(frame["paragraph_id"], errors="raise").astype("int64")

    labels = [list(value) if isinstance(value, list) else [] for value in frame.pop("labels")]
    unknown = sorted({name for row in labels for name in row} - set(TECHNIQUES))
    if unknown:
        raise LoaderError(f"source {source.name!r}: unknown technique names {unknown}")
    frame["techniques"] = ["|".join(row) for row in labels]
    frame["n_techniques"] = [len(row) for row in labels]
    for name in TECHNIQUES:
        frame[technique_column(name)] = [name in row for row in labels]
    lf = lf_columns(clean_texts(frame["text"].tolist()))
    for column in lf.columns:
        frame[column] = lf[column].to_numpy()
    return frame
