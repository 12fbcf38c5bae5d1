"""Counterfactual "reported" copies of narrative positives: the same claim, framed as reporting or debunking.

The guidelines' central rule is that reporting, quoting or debunking a denial is not denial. The training
positives (analyst claim texts, LF-selected comments) say their claim in the author's voice, and almost no
negative repeats the same claim, so a bag-of-n-grams model learns the *topic and claim vocabulary* ("Douma",
"staged", "Holocaust") instead of the stance. Pairing every positive with a copy wrapped in a reporting or
debunking frame, labelled 0, removes that shortcut: the claim words occur on both sides and only the frame
differs.

Frames are generic reporting language (who + verb + "that", "there is no evidence that", a debunking
sentence after the claim), combined at random but reproducibly (seeded by the text). They are deliberately not
the sentences of the development set or the minimal pairs; evaluation on those hand-written texts measures
whether the lesson transfers.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterable, Sequence

import pandas as pd

from training.datasets.cleaning import text_keys

REPORTERS: tuple[str, ...] = (
    "Pro-Kremlin outlets",
    "Russian state media",
    "State television",
    "Some bloggers",
    "Conspiracy websites",
    "Propagandists",
    "The outlet",
    "Officials",
    "Government spokespeople",
    "Anonymous accounts",
    "A viral post",
    "Several Telegram channels",
    "Fringe politicians",
    "The article's author",
    "Disinformation sites",
    "A far-right forum",
    "Some commentators",
    "Deniers",
    "Nationalists",
    "Trolls in the comments",
    "Apologists for the regime",
    "Some people",
    "My relatives",
    "A colleague",
)
VERBS: tuple[str, ...] = (
    "claimed",
    "claim",
    "say",
    "said",
    "alleged",
    "insist",
    "insisted",
    "argued",
    "suggested",
    "asserted",
    "believe",
    "keep saying",
    "wrote",
    "posted",
    "told viewers",
    "falsely stated",
    "spread the story",
    "repeated the lie",
    "pushed the narrative",
)
FRAMES: tuple[str, ...] = (
    "The claim that {claim} is false.",
    "It is not true that {claim}.",
    "There is no evidence that {claim}.",
    "Fact check: the allegation that {claim} has been debunked.",
    "Beware of posts saying that {claim}.",
    "Nothing supports the rumour that {claim}.",
)
DEBUNKS: tuple[str, ...] = (
    "This has been debunked.",
    "There is no evidence for any of it.",
    "Investigators found the opposite.",
    "That is disinformation.",
    "Independent reporting contradicts this.",
    "It is a well-documented lie.",
    "The evidence shows otherwise.",
    "None of this is true.",
)
_LOWERCASE_FIRST_WORDS = frozenset(
    {"The", "A", "An", "This", "These", "There", "It", "All", "No", "Most", "Some", "Every", "Only", "Its", "Their"}
)
_TRAILING = re.compile(r"[\s.!?…]+$")


def _embeddable(claim: str) -> str:
    """The claim as a clause: trailing punctuation dropped, a leading function word lower-cased."""
    claim = _TRAILING.sub("", claim.strip())
    first, _, rest = claim.partition(" ")
    if first in _LOWERCASE_FIRST_WORDS and rest:
        claim = f"{first.lower()} {rest}"
    return claim


def reported(claim: str, variant: int = 0) -> str:
    """A reporting/debunking version of ``claim``; the same (claim, variant) always gets the same frame."""
    rng = random.Random(zlib.crc32(claim.encode("utf-8")) * 31 + variant)
    clause = _embeddable(claim)
    style = rng.random()
    if style < 0.55:
        reporter, verb = rng.choice(REPORTERS), rng.choice(VERBS)
        if rng.random() < 0.5:
            text = f"{reporter} {verb} that {clause}."
        elif rng.random() < 0.5:
            text = f"{reporter} {verb}: {clause}."
        else:
            text = f"According to {reporter[:1].lower() + reporter[1:]}, {clause}."
        if rng.random() < 0.5:
            text += " " + rng.choice(DEBUNKS)
    elif style < 0.8:
        text = rng.choice(FRAMES).format(claim=clause)
    else:
        text = f"{_TRAILING.sub('', claim.strip())}. {rng.choice(DEBUNKS)}"
    return text


def reported_texts(claims: Iterable[str], variant: int = 0) -> list[str]:
    """:func:`reported` for every claim."""
    return [reported(claim, variant) for claim in claims]


def add_reported_copies(
    frame: pd.DataFrame, labels: Sequence[str], text_column: str = "text", copies_per_row: int = 1
) -> pd.DataFrame:
    """``frame`` plus ``copies_per_row`` reported copies of every row positive for any of ``labels``.

    In a copy, each of ``labels`` that was 1 becomes 0 (a report of the claim is not the claim); other columns
    are copied unchanged (so a copy stays in its original's split and source), except a corpus dedup ``key``
    column, which is recomputed for the new text. An ``augmented`` column marks the copies.
    """
    positive = (frame[list(labels)] == 1).any(axis=1)
    parts = [frame.assign(augmented=False)]
    for variant in range(copies_per_row):
        copies = frame.loc[positive].copy()
        copies[text_column] = reported_texts(copies[text_column].astype(str), variant)
        for label in labels:
            copies.loc[copies[label] == 1, label] = 0.0
        if "key" in copies.columns:
            copies["key"] = text_keys(copies[text_column])
        parts.append(copies.assign(augmented=True))
    return pd.concat(parts, ignore_index=True)
