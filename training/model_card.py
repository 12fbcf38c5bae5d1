"""MODEL_CARD.md for a bundle, rendered from the same numbers that go into its manifest."""

from __future__ import annotations

from typing import Any

from training.corpus import Corpus


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2g}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _label_section(m: dict[str, Any]) -> str:
    validation = m["metrics"]["validation"]
    points = validation.get("operating_points", {})
    rows = []
    for label in m["labels"]:
        pooled = validation["pooled"].get(label, {})
        info = m["label_info"].get(label, {})
        th = m["thresholds"][label]
        review = points.get(label, {}).get("review", {})
        block = points.get(label, {}).get("block", {})
        rows.append([
            label + (" (experimental)" if info.get("experimental") else ""),
            pooled.get("n"), pooled.get("positives"), pooled.get("roc_auc"), pooled.get("pr_auc"),
            th["review"], review.get("precision"), review.get("recall"),
            th["block"], block.get("precision"), block.get("recall"),
        ])
    return _table(["label", "val n", "val pos", "ROC-AUC", "PR-AUC", "review ≥", "prec", "recall",
                   "block ≥", "prec", "recall"], rows)


def _per_source_section(m: dict[str, Any]) -> str:
    per_source = m["metrics"]["validation"]["per_source"]
    labels = m["labels"]
    rows = []
    for source in sorted(per_source):
        row: list[Any] = [source]
        for label in labels:
            entry = per_source[source].get(label)
            row.append(None if entry is None else
                       f"{_fmt(entry['roc_auc'])} / {_fmt(entry['pr_auc'])} (n={entry['n']})")
        rows.append(row)
    return _table(["source", *labels], rows)


def _loso_section(m: dict[str, Any]) -> str:
    loso = m["metrics"]["validation"].get("leave_one_source_out")
    if not loso:
        return "_Not computed for this bundle (train with leave_one_source_out = true)._"
    labels = m["labels"]
    rows = []
    for source in sorted(loso["model"]):
        row: list[Any] = [source]
        for label in labels:
            ours = loso["model"][source].get(label, {}).get("roc_auc")
            base = loso.get("baseline", {}).get(source, {}).get(label, {}).get("roc_auc")
            row.append(None if ours is None and base is None else f"{_fmt(ours)} vs {_fmt(base)}")
        rows.append(row)
    macro = loso["macro"]
    return (
        _table(["held-out source", *labels], rows)
        + f"\n\nMacro ROC-AUC over (source, label) pairs: **{_fmt(macro.get('model'))}** for this recipe vs "
        f"**{_fmt(macro.get('baseline'))}** for the pooled word TF-IDF + logistic regression baseline."
    )


def _narrative_section(m: dict[str, Any]) -> str:
    narratives = m["metrics"]["validation"].get("narratives")
    if not narratives:
        return ""
    per_source = m["metrics"]["validation"]["pooled"]
    rows = []
    for label, result in narratives["labels"].items():
        for subset in ("all", "pattern_free"):
            r = result[subset]
            rows.append([label, subset.replace("_", "-"), r["n"], r["positives"], r["roc_auc"], r["pr_auc"],
                         r.get("threshold"), r.get("precision"), r.get("recall")])
    pairs = "; ".join(
        f"`{label}`: endorsed text scores higher than its reporting/debunking twin in **{p['wins']}/{p['pairs']}** "
        f"pairs ({p['win_rate']:.0%}, target {p['target']:.0%})" for label, p in narratives["minimal_pairs"].items()
    )
    validation = ", ".join(
        f"`{label}` ROC-AUC {_fmt(per_source.get(label, {}).get('roc_auc'))}" for label in narratives["labels"]
    )
    caps = narratives.get("review_volume_cap", {})
    cap_text = "; ".join(
        f"`{label}`: recall rule {c['recall_threshold']:.2g}, volume cap {c['volume_threshold']:.2g}, chosen "
        f"threshold flags {c['ordinary_review_rate']:.1%} of {c['ordinary_comments']:,} ordinary comments"
        for label, c in caps.items()
    )
    return f"""## Narrative labels (experimental)
`atrocity_denial` and `conspiracy` are experimental: the default policy may send an item to review on them but
never blocks. **The training data is not comments**: positives are EUvsDisinfo analyst summaries of
pro-Kremlin disinformation claims and labeling-function matches in comment-style text; negatives are the
EUvsDisinfo debunks (same topics), SemEval-2023 news paragraphs without persuasion techniques, and the
toxicity sources' comments where no labeling function fires. That leaves a domain gap (headline-style claims
vs. reader comments; no 2022 events such as Bucha in the claims), so thresholds and the figures below come from
a hand-written development set of comment-style texts ({narratives['dev_items']} items, never trained on;
guidelines in `docs/narratives/guidelines.md`). The *pattern-free* rows keep only texts that contain none of
the labeling functions' pattern words ({narratives['pattern_free_items']} items): they show what the model
learnt beyond its weak supervision.

{_table(["label", "subset", "n", "pos", "ROC-AUC", "PR-AUC", "review ≥", "precision", "recall"], rows)}

Review thresholds: the development-set rule (recall 0.8) alone would send 17–22% of ordinary comments to
review, because the development set is a quarter positive and real comment streams are not; so each threshold
is raised until at most 1% of ordinary validation comments (the toxicity sources) would be flagged, and the
precision/recall above are at that threshold. {cap_text}.

Minimal pairs: {pairs}. Validation split (claims vs debunks and comment negatives): {validation}.
"""


def _data_section(m: dict[str, Any], corpus: Corpus | None) -> str:
    rows = []
    for record in m["datasets"]:
        label_counts = ", ".join(
            f"{label} {c.get('positive', 0)}+/{c.get('negative', 0)}-" for label, c in record["labels"].items()
        )
        files = "<br>".join(f"`{f['path']}` sha256 `{f['sha256'][:16]}…`" for f in record["files"])
        rows.append([record["name"], record["rows"], label_counts, files])
    return _table(["source", "rows", "labels (pos/neg)", "files"], rows)


def render_model_card(m: dict[str, Any], corpus: Corpus | None = None) -> str:
    validation = m["metrics"]["validation"]
    latency = validation.get("latency", {})
    featurizer = m["featurizer"]
    experimental = [label for label in m["labels"] if m["label_info"].get(label, {}).get("experimental")]
    blocked_never = [label for label in m["labels"] if m["thresholds"][label]["block"] is None]
    return f"""# Model card: {m['name']} {m['version']}

Code version `{m['code_version']}`. Labels: {', '.join(f'`{label}`' for label in m['labels'])}.

## Intended use
Scoring English reader comments (news comment sections, forums, social replies) for moderation: each label
gets a calibrated probability, and the manifest's thresholds turn scores into `allow` / `review` / `block`.
It is a fast first pass for a human review queue, not a judge: `block` thresholds were chosen for ≥ 90%
validation precision, and everything in between goes to people.

Out of scope: languages other than English (other scripts are normalised but were not trained on), decisions
about people rather than comments, and any use without human review of `review` items.

## Model
Hashed character n-grams (lengths {', '.join(str(n) for n in featurizer['char_ngram_lengths'])}) and word uni/bigrams
over a normalised character stream (case folding, accent stripping, compatibility forms, confusable letters,
zero-width characters removed, leetspeak next to letters, squeezed repeats, joined s p a c e d letters);
TF-IDF normalised by the L2 norm over occurrences per family (no sort needed in ONNX);
vocabulary {featurizer.get('vocabulary_size', 0):,} n-grams.
One logistic regression per label, trained only on rows whose source annotates that label (an unannotated
label is unknown, not negative), with per-source intercepts absorbed during training and sources re-weighted
(`source_balance` = {m['training']['settings']['source_balance']}) so that no single platform's base rate is
learnt as language; Platt-calibrated on the validation split. The whole pipeline is one ONNX graph (standard
operators plus onnxruntime's Tokenizer; no locale needed); max |ONNX − reference| over the validation split:
{validation.get('onnx_parity_max_abs_diff', 0):.1e}.

Latency on the build machine (one thread, this bundle): {latency.get('single_ms_p50', '–')} ms per single
comment, {latency.get('batch100_ms_p50', '–')} ms per batch of 100 (median).

## Validation (own split carved from the training sources; official test splits are withheld)
Thresholds: `review` = highest score keeping recall ≥ {m['training']['threshold_rule']['review_recall']}, raised
where needed so that review precision is at least {m['training']['threshold_rule'].get('review_min_precision', 0)};
`block` = lowest score with precision ≥ {m['training']['threshold_rule']['block_precision']} over at least
{m['training']['threshold_rule']['min_block_support']} items (`–`: never reached, the label does not block on its own).
Precision depends on each source's base rate; the pooled validation mix is not any one platform's.

{_label_section(m)}

### Per source (validation ROC-AUC / PR-AUC)
{_per_source_section(m)}

### Leave one source out (ROC-AUC: this recipe vs pooled TF-IDF + LR baseline)
Each row: trained on all other sources, scored on every row of the held-out source. This is the number that
predicts behaviour on a new platform.

{_loso_section(m)}

{_narrative_section(m)}
## Data
Every source contributes only to the labels it annotates; files are fingerprinted (sha256 of the file read).

{_data_section(m, corpus)}

## Limitations
- The sources define labels differently (OLID "offensive" tweets, Civil Comments toxic spans, Gab
  hate-corpus "human dignity"), so a score is a consensus of those definitions, not any one of them.
- Training text is mostly tweets and Gab posts; news-site comments are represented by Civil Comments
  (toxic-spans, toxic posts only) — expect some domain shift.
- `severe_toxicity` is trained only from real severity annotations (AbuseAnalyzer, ConvAbuse), which are
  small: treat it as indicative.
- Labels without a block threshold: {', '.join(blocked_never) or 'none'}.
  Experimental labels (review only, never block): {', '.join(experimental) or 'none'}.
- Identity terms: n-gram models over-score comments that merely mention identities; see the bias report
  produced by `threadguard evaluate` before changing thresholds.
"""
