"""The training corpus: every enabled source loaded, labelled by its rules, cleaned, deduplicated and split.

One row per (source, distinct text). Columns: ``text`` (cleaned), ``key`` (dedup key), ``source``, ``split``
("train" / "val"), one float column per model label (1.0 positive, 0.0 negative, NaN unknown) and ``weight``.

Rules, and why:

* Within a source, rows with the same key are one example: their known labels are merged by majority and a
  tie becomes unknown, so a duplicated text cannot count twice or carry two contradicting targets.
* Across sources duplicates are kept, because each source's labels mean something different (OLID's OFF is
  not HateXplain's "offensive"); the label columns are per source anyway.
* The split is a pure function of (key, seed): a text and all its duplicates, in any source, land in the same
  split, so no key is ever in both train and val and validation scores are not inflated by memorised texts.
  Because the hash is uniform, each source's validation share is close to ``val_fraction``.
* Augmentation (``[augmentation]`` in the config) only ever adds *training* rows, after the split: e.g.
  reported copies of narrative positives (:func:`reported_copies`). An added row keeps its original's source
  and weight, is known only for the labels the augmentation defines, and never shares a key with a
  validation row.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from threadguard.bundle import DataFileFingerprint, DatasetRecord, sha256_file
from training.config import ConfigError, SourceConfig, TrainingConfig, load_config
from training.datasets import LoaderError, get_loader
from training.datasets.cleaning import clean_texts, text_keys
from training.datasets.rules import apply_rules

Progress = Callable[[str], None]
SPLITS = ("train", "val")
BASE_COLUMNS = ("text", "key", "source", "split")


@dataclass(frozen=True)
class SourceStats:
    """What happened to one source's rows on the way into the corpus."""

    name: str
    loaded: int
    empty_dropped: int
    duplicates_merged: int
    unlabeled_dropped: int
    rows: int
    seconds: float


@dataclass
class Corpus:
    """The assembled corpus plus what went into it (for the manifest and the model card)."""

    frame: pd.DataFrame
    labels: list[str]
    datasets: list[DatasetRecord]
    stats: list[SourceStats] = field(default_factory=list)
    data_root: Path | None = None
    augmented: dict[str, int] = field(default_factory=dict)  # training rows added per source (augmentation)

    def split(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; splits are {SPLITS}")
        return self.frame[self.frame["split"] == name]

    @property
    def train(self) -> pd.DataFrame:
        return self.split("train")

    @property
    def val(self) -> pd.DataFrame:
        return self.split("val")

    def label_counts(self) -> pd.DataFrame:
        """Positive / negative / unknown counts per (source, label)."""
        rows = []
        for source, group in self.frame.groupby("source", sort=False):
            for label in self.labels:
                values = group[label]
                rows.append(
                    {
                        "source": source,
                        "label": label,
                        "positive": int((values == 1.0).sum()),
                        "negative": int((values == 0.0).sum()),
                        "unknown": int(values.isna().sum()),
                    }
                )
        return pd.DataFrame(rows)

    def cross_source_duplicate_keys(self) -> int:
        """How many distinct keys occur in more than one source (kept on purpose, see the module doc)."""
        sources_per_key = self.frame.groupby("key")["source"].nunique()
        return int((sources_per_key > 1).sum())

    def summary(self) -> str:
        """A plain-text table of rows per source and split, and label coverage."""
        lines = [
            f"{'source':<28} {'loaded':>7} {'empty':>6} {'dups':>6} {'unlab':>6} {'rows':>7} {'val%':>6}"
        ]
        by_name = {record.name: record for record in self.datasets}
        for stat in self.stats:
            record = by_name[stat.name]
            val_share = record.rows_by_split.get("val", 0) / record.rows if record.rows else 0.0
            lines.append(
                f"{stat.name:<28} {stat.loaded:>7} {stat.empty_dropped:>6} {stat.duplicates_merged:>6} "
                f"{stat.unlabeled_dropped:>6} {stat.rows:>7} {100 * val_share:>5.1f}%"
            )
        if self.augmented:
            added = ", ".join(f"{name} {rows}" for name, rows in self.augmented.items())
            lines.append(f"reported copies added to train (included above): {added}")
        lines.append(f"total rows {len(self.frame)}; distinct keys {self.frame['key'].nunique()}")
        for label in self.labels:
            values = self.frame[label]
            lines.append(
                f"  {label:<16} positive {int((values == 1).sum()):>6}  "
                f"negative {int((values == 0).sum()):>6}  unknown {int(values.isna().sum()):>6}"
            )
        return "\n".join(lines)


def split_of_keys(keys: pd.Series, *, val_fraction: float, seed: int) -> np.ndarray:
    """Deterministic "train"/"val" per key: a keyed hash of the text key mapped to [0, 1)."""
    salt = f"threadguard-split:{seed}".encode()
    threshold = int(val_fraction * 2**64)
    cache: dict[str, str] = {}
    out = np.empty(len(keys), dtype=object)
    for index, key in enumerate(keys):
        split = cache.get(key)
        if split is None:
            digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, key=salt).digest()
            split = "val" if int.from_bytes(digest, "big") < threshold else "train"
            cache[key] = split
        out[index] = split
    return out


def merge_duplicates(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """One row per key: first text, labels by majority of the known values (tie -> NaN)."""
    if not frame["key"].duplicated().any():
        return frame.reset_index(drop=True)
    values = frame[labels]
    known = values.notna().groupby(frame["key"], sort=False).sum()
    positive = (values == 1.0).groupby(frame["key"], sort=False).sum().to_numpy()
    # more positives than negatives -> 1, fewer -> 0, a tie (or nothing known: 0 vs 0) -> NaN
    merged = np.select(
        [2 * positive > known.to_numpy(), 2 * positive < known.to_numpy()], [1.0, 0.0], default=np.nan
    )
    first = frame.drop_duplicates("key", keep="first").set_index("key").loc[known.index]
    result = first.drop(columns=labels).reset_index()
    result[labels] = merged
    return result[frame.columns]


def fingerprint(source: SourceConfig, data_root: Path) -> list[DataFileFingerprint]:
    """sha256 and byte size of every file the source reads, paths relative to the data root."""
    return [
        DataFileFingerprint(
            path=Path(relative).as_posix(), sha256=sha256_file(path), bytes=path.stat().st_size
        )
        for relative, path in zip(source.files, source.file_paths(data_root), strict=True)
    ]


def load_source(source: SourceConfig, data_root: Path) -> pd.DataFrame:
    """Run the source's loader and check its contract."""
    frame = get_loader(source.loader)(source, data_root)
    if not isinstance(frame, pd.DataFrame) or "text" not in frame.columns:
        raise LoaderError(
            f"loader {source.loader!r} for source {source.name!r} must return a frame with 'text'"
        )
    frame = frame.reset_index(drop=True)
    if source.option("labeling_functions", False):
        # narrative labeling-function votes (lf_atrocity_denial, lf_conspiracy, ...) as extra rule columns, so
        # that e.g. a toxicity source can give narrative negatives only where no pattern fires
        from training.narratives.labeling_functions import lf_columns

        votes = lf_columns(clean_texts(frame["text"].astype(str)))
        frame = frame.join(votes.set_index(frame.index)[[c for c in votes.columns if c not in frame.columns]])
    return frame


def prepare_source(
    source: SourceConfig, config: TrainingConfig, data_root: Path
) -> tuple[pd.DataFrame, SourceStats]:
    """Load one source and turn it into corpus rows (labelled, cleaned, deduplicated, split)."""
    started = time.perf_counter()
    labels = config.labels
    raw = load_source(source, data_root)
    labelled = apply_rules(raw, source, labels)
    frame = pd.DataFrame({"text": clean_texts(raw["text"].astype(str))})
    frame["key"] = text_keys(frame["text"])
    frame["source"] = source.name
    frame[labels] = labelled.to_numpy()

    nonempty = (frame["text"] != "") & (frame["key"] != "")
    empty_dropped = int((~nonempty).sum())
    frame = frame[nonempty]
    before_merge = len(frame)
    frame = merge_duplicates(frame, labels)
    duplicates_merged = before_merge - len(frame)
    frame.insert(
        3, "split", split_of_keys(frame["key"], val_fraction=config.data.val_fraction, seed=config.data.seed)
    )

    unlabeled_dropped = 0
    if config.data.drop_unlabeled:
        has_label = frame[labels].notna().any(axis=1)
        unlabeled_dropped = int((~has_label).sum())
        frame = frame[has_label]
    frame = frame.assign(weight=float(source.weight)).reset_index(drop=True)
    stats = SourceStats(
        name=source.name,
        loaded=len(raw),
        empty_dropped=empty_dropped,
        duplicates_merged=duplicates_merged,
        unlabeled_dropped=unlabeled_dropped,
        rows=len(frame),
        seconds=time.perf_counter() - started,
    )
    return frame, stats


def dataset_record(
    source: SourceConfig, frame: pd.DataFrame, files: list[DataFileFingerprint]
) -> DatasetRecord:
    return DatasetRecord(
        name=source.name,
        files=files,
        rows=len(frame),
        rows_by_split={split: int((frame["split"] == split).sum()) for split in SPLITS},
        labels={
            label: {
                "positive": int((frame[label] == 1.0).sum()),
                "negative": int((frame[label] == 0.0).sum()),
            }
            for label in source.labels
        },
    )


def reported_copies(frame: pd.DataFrame, config: TrainingConfig) -> pd.DataFrame:
    """The rows ``[augmentation.reported_copies]`` adds to a corpus frame (none when it is not configured).

    For every training-split row of the configured sources that is positive for one of its labels,
    ``copies_per_row`` copies framed as reporting or debunking the text
    (:func:`training.narratives.augment.add_reported_copies`). A copy is 0 for the labels its original was
    positive for and NaN for every other label: it is evidence only that reporting a claim is not asserting
    it. Copies are in the training split, keep the original's source and weight, and are dropped when their
    key is a validation key or already in their source (so the split and dedup rules still hold).
    """
    spec = config.augmentation.reported_copies
    if spec is None or spec.copies_per_row == 0 or frame.empty:
        return frame.iloc[:0]
    from training.narratives.augment import add_reported_copies

    names = spec.sources if spec.sources is not None else [source.name for source in config.enabled_sources]
    sources = [name for name in names if name not in spec.exclude_sources]
    train = frame[(frame["split"] == "train") & frame["source"].isin(sources)]
    originals = train[(train[spec.labels] == 1).any(axis=1)].copy()
    for label in config.labels:
        asserted = (originals[label] == 1) if label in spec.labels else False
        originals[label] = np.where(asserted, 1.0, np.nan)
    copies = add_reported_copies(originals, spec.labels, copies_per_row=spec.copies_per_row)
    copies = copies[copies["augmented"]].drop(columns="augmented")
    copies["text"] = clean_texts(copies["text"].astype(str))
    copies["key"] = text_keys(copies["text"])
    val_keys = set(frame.loc[frame["split"] == "val", "key"])
    taken = set(zip(frame["source"], frame["key"], strict=True))
    keep = [
        key != "" and key not in val_keys and (source, key) not in taken
        for source, key in zip(copies["source"], copies["key"], strict=True)
    ]
    copies = copies[keep].drop_duplicates(["source", "key"])
    return copies.assign(split="train")[list(frame.columns)].reset_index(drop=True)


def build_corpus(
    config: TrainingConfig,
    data_root: str | Path | None = None,
    progress: Progress | None = None,
) -> Corpus:
    """Load every enabled source of ``config`` into one :class:`Corpus`.

    ``data_root`` overrides ``$THREADGUARD_DATA_ROOT`` and ``[data].root``; ``progress`` receives one line
    per source.
    """
    root = config.resolve_data_root(data_root)
    sources = config.enabled_sources
    if not sources:
        raise ConfigError("no enabled sources in the training config")
    config.check_files(root, sources)
    report = progress or (lambda _line: None)

    frames, records, stats = [], [], []
    for source in sources:
        files = fingerprint(source, root)
        frame, stat = prepare_source(source, config, root)
        record = dataset_record(source, frame, files)
        frames.append(frame)
        records.append(record)
        stats.append(stat)
        report(
            f"{source.name}: {stat.loaded} loaded, {stat.empty_dropped} empty, {stat.duplicates_merged} "
            f"duplicates merged, {stat.unlabeled_dropped} unlabeled -> {stat.rows} rows "
            f"(train {record.rows_by_split['train']}, val {record.rows_by_split['val']}) "
            f"in {stat.seconds:.2f}s"
        )
    columns = [*BASE_COLUMNS, *config.labels, "weight"]
    frame = pd.concat(frames, ignore_index=True)[columns]
    copies = reported_copies(frame, config)
    augmented: dict[str, int] = {}
    if len(copies):
        augmented = {str(k): int(v) for k, v in copies["source"].value_counts(sort=False).items()}
        report(f"reported copies: {len(copies)} training rows added ({augmented})")
        frame = pd.concat([frame, copies], ignore_index=True)
    return Corpus(frame=frame, labels=config.labels, datasets=records, stats=stats, data_root=root,
                  augmented=augmented)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the corpus and print its figures (``python -m training.corpus [--config P] [--data-root D]``)."""
    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=main.__doc__)
    parser.add_argument(
        "--config", default=None, help="training config (default: training/configs/default.toml)"
    )
    parser.add_argument(
        "--data-root", default=None, help="data root (default: $THREADGUARD_DATA_ROOT or config)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        config = load_config(args.config)
        corpus = build_corpus(config, data_root=args.data_root, progress=print)
    except (ConfigError, LoaderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(corpus.summary())
    print(f"cross-source duplicate keys (kept): {corpus.cross_source_duplicate_keys()}")
    print(f"built in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
