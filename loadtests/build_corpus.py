"""Write the load-test corpus: comment texts and synthetic reply threads, from the TRAIN split only.

Usage::

    .venv/bin/python loadtests/build_corpus.py                  # writes loadtests/data/{comments,threads}.jsonl
    .venv/bin/python loadtests/build_corpus.py --comments 4000 --threads 60 --seed 7

``comments.jsonl``: one ``{"text", "source"}`` object per line, sampled per source in proportion to the source's
share of the training split (at least ``--min-per-source`` each), cleaned (whitespace normalised, control
characters dropped, duplicates and near-empty texts removed), fixed seed. The validation split is never read
and the official test splits are not in the data folder at all, so no withheld text can reach load traffic.

``threads.jsonl``: one ``{"thread_id", "comments": [{"id", "text", "parent_id", "author_id"}]}`` per line:
reply trees of 5 to 80 comments grown by preferential attachment (popular comments get more replies, some
chains go deep), texts drawn from the sampled comments.

The files are deterministic for a given corpus and seed and stay commit-sized (well under 2 MB).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_OUT = HERE / "data"
SEED = 20240614
MAX_CHARS = 2_000  # longer posts exist in the sources; comment boxes rarely see them
MIN_CHARS = 3
MAX_FILE_BYTES = 2 * 1024 * 1024

_SPACES = re.compile(r"[ \t\u00a0]+")
_NEWLINES = re.compile(r"\n{3,}")


def clean(text: str) -> str:
    """Normalise line ends and runs of spaces, drop control characters (keeping newlines), strip."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc")
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n\n", text)
    return text.strip()


def sample_comments(frame: object, n: int, min_per_source: int, seed: int) -> list[dict[str, str]]:
    """``n``-ish cleaned texts from the train rows of ``frame``, stratified by source."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    train = frame[frame["split"] == "train"]
    if train.empty:
        raise SystemExit("the corpus has no train rows")
    shares = train["source"].value_counts(normalize=True).sort_index()
    rng = random.Random(seed)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for source, share in shares.items():
        texts = train.loc[train["source"] == source, "text"].tolist()
        rng.shuffle(texts)
        want = max(min_per_source, round(n * float(share)))
        taken = 0
        for raw in texts:
            if taken >= want:
                break
            text = clean(str(raw))
            if len(text) < MIN_CHARS or len(text) > MAX_CHARS or text.lower() in seen:
                continue
            seen.add(text.lower())
            out.append({"text": text, "source": str(source)})
            taken += 1
    rng.shuffle(out)
    return out


def build_threads(texts: list[str], n_threads: int, seed: int) -> list[dict[str, object]]:
    """Synthetic reply trees: each new comment replies to an existing one chosen by preferential attachment."""
    rng = random.Random(seed + 1)
    threads: list[dict[str, object]] = []
    for t in range(n_threads):
        size = rng.choice([rng.randint(5, 20), rng.randint(5, 20), rng.randint(20, 50), rng.randint(50, 80)])
        authors = [f"u{rng.randrange(10_000)}" for _ in range(max(2, size // 3))]
        comments: list[dict[str, object]] = []
        weights: list[float] = []
        for i in range(size):
            parent: int | None = None
            if i > 0 and rng.random() > 0.2:  # 20% start a new top-level comment
                parent = rng.choices(range(i), weights=weights)[0]
            comments.append(
                {
                    "id": f"t{t}-c{i}",
                    "text": rng.choice(texts),
                    "parent_id": None if parent is None else f"t{t}-c{parent}",
                    "author_id": rng.choice(authors),
                }
            )
            weights.append(1.0)
            if parent is not None:
                weights[parent] += 1.0
                weights[i] += 0.5  # a fresh reply invites a reply: some chains go deep
        threads.append({"thread_id": f"thread-{t}", "comments": comments})
    return threads


def write_jsonl(path: Path, rows: list[dict[str, object]] | list[dict[str, str]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(data, encoding="utf-8")
    return len(data.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default loadtests/data)")
    parser.add_argument("--comments", type=int, default=4_000, help="texts to sample (default 4000)")
    parser.add_argument("--min-per-source", type=int, default=100)
    parser.add_argument("--threads", type=int, default=60, help="synthetic threads (default 60)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--config", type=Path, default=None, help="training config (default: the shipped one)")
    parser.add_argument("--data-root", type=Path, default=None, help="data root (default: the config's)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO_ROOT))
    from training.config import load_config
    from training.corpus import build_corpus

    corpus = build_corpus(load_config(args.config), data_root=args.data_root)
    comments = sample_comments(corpus.frame, args.comments, args.min_per_source, args.seed)
    threads = build_threads([c["text"] for c in comments], args.threads, args.seed)
    size_c = write_jsonl(args.out / "comments.jsonl", comments)
    size_t = write_jsonl(args.out / "threads.jsonl", threads)
    for name, size in (("comments.jsonl", size_c), ("threads.jsonl", size_t)):
        if size > MAX_FILE_BYTES:
            print(f"warning: {name} is {size} bytes, over the {MAX_FILE_BYTES}-byte budget", file=sys.stderr)
    n_thread_comments = sum(len(t["comments"]) for t in threads if isinstance(t["comments"], list))
    print(
        f"wrote {len(comments)} comments ({size_c / 1024:.0f} KiB) and {len(threads)} threads "
        f"({n_thread_comments} comments, {size_t / 1024:.0f} KiB) to {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
