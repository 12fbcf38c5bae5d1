"""Sample reader comments under war news, and a deterministic stand-in scorer for them.

The scorer is keyword based: it exists so the review tests can produce realistic flagged items (with scores,
triggered labels and highlighted spans) without a trained model. It is not what the service runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.core.review_sink import FlaggedItem

LABELS = (
    "toxicity", "severe_toxicity", "insult", "identity_attack", "profanity", "threat", "atrocity_denial",
    "conspiracy",
)
REVIEW_AT = 0.5
BLOCK_AT = 0.85

# label -> (pattern, score it gives)
KEYWORDS: dict[str, list[tuple[str, float]]] = {
    "insult": [(r"\bidiot\w*", 0.78), (r"\bpathetic\b", 0.64), (r"\bmoron\w*", 0.8), (r"\bclown\w*", 0.55)],
    "profanity": [(r"\bdamn\b", 0.52), (r"\bshit\w*", 0.74), (r"\bbloody\b", 0.5), (r"\bf\*+k\w*", 0.88)],
    "threat": [(r"\bdeserve\w* to be shot\b", 0.93), (r"\bhang them\b", 0.9), (r"\bwe will find you\b", 0.72)],
    "identity_attack": [(r"\bvermin\b", 0.91), (r"\bsubhuman\w*\b", 0.95), (r"\bthose people\b", 0.55)],
    "atrocity_denial": [(r"\bstaged\b", 0.72), (r"\bcrisis actors?\b", 0.86), (r"\bnever happened\b", 0.66)],
    "conspiracy": [(r"\bglobalists?\b", 0.63), (r"\bscripted\b", 0.6), (r"\bfalse flag\b", 0.7)],
}
TOXIC = ("insult", "profanity", "threat", "identity_attack")


@dataclass(frozen=True)
class Comment:
    item_id: str
    text: str
    thread_id: str | None = None
    parent_id: str | None = None
    author_id: str | None = None


@dataclass(frozen=True)
class Verdict:
    scores: dict[str, float]
    triggered: tuple[str, ...]
    decision: str
    spans: tuple[dict[str, object], ...]


def score(text: str) -> Verdict:
    """Keyword scores per label, the labels over the review threshold, the decision, and matching spans."""
    scores = dict.fromkeys(LABELS, 0.02)
    spans: list[dict[str, object]] = []
    for label, patterns in KEYWORDS.items():
        for pattern, value in patterns:
            for match in re.finditer(pattern, text, flags=re.IGNORECASE):
                scores[label] = max(scores[label], value)
                spans.append({"label": label, "begin": match.start(), "end": match.end(), "weight": value})
    toxic = max(scores[label] for label in TOXIC)
    scores["toxicity"] = round(min(0.99, toxic + 0.05), 3) if toxic > 0.1 else 0.03
    scores["severe_toxicity"] = round(max(0.02, toxic - 0.4), 3)
    triggered = tuple(sorted(label for label, value in scores.items() if value >= REVIEW_AT))
    decision = "allow"
    if triggered:
        decision = "block" if max(scores[label] for label in triggered) >= BLOCK_AT else "review"
    return Verdict(scores=scores, triggered=triggered, decision=decision, spans=tuple(spans))


def flagged_item(comment: Comment, *, source: str = "native", created_at: datetime | None = None) -> FlaggedItem:
    verdict = score(comment.text)
    return FlaggedItem(
        item_id=comment.item_id,
        text=comment.text,
        scores=verdict.scores,
        decision=verdict.decision,
        triggered=verdict.triggered,
        model_name="threadguard-ngram",
        model_version="2026.11.1",
        source_client=source,
        created_at=created_at or datetime.now(UTC),
        thread_id=comment.thread_id,
        parent_id=comment.parent_id,
        author_id=comment.author_id,
        spans=verdict.spans,
    )


T1 = "kharkiv-market-strike"
T2 = "mariupol-theatre-report"

COMMENTS: tuple[Comment, ...] = (
    Comment("c101", "The footage from the market is heartbreaking. Thoughts with the families.", T1, None, "u-anna"),
    Comment("c102", "Heartbreaking? It was staged. Those are crisis actors and everyone knows it.", T1, "c101",
            "u-truth88"),
    Comment("c103", "You are a pathetic idiot for repeating that garbage.", T1, "c102", "u-mykola"),
    Comment("c104", "Satellite images show the craters before the report came out. It was not made up.", T1,
            "c102", "u-osint"),
    Comment("c105", "Damn, what a bloody mess. This shit never ends.", T1, "c101", "u-pete"),
    Comment("c106", "Anyone who supports them deserves to be shot, every last one.", T1, None, "u-anon1"),
    Comment("c107", "Typical of those vermin, they lie about everything.", T1, "c103", "u-truth88"),
    Comment("c108", "Wake up, the whole war is scripted by the globalists to sell weapons.", T1, None, "u-wakeup"),
    Comment("c201", "The theatre had CHILDREN written outside in huge letters.", T2, None, "u-lena"),
    Comment("c202", "Never happened. Show me one body that was not a crisis actor.", T2, "c201", "u-denier"),
    Comment("c203", "Only a moron could watch those videos and say that.", T2, "c202", "u-lena"),
    Comment("c204", "False flag, obviously. Same playbook every time.", T2, "c201", "u-wakeup"),
    Comment("c205", "Clowns like you make me sick, we will find you.", T2, "c203", "u-angry"),
)


def flagged_comments(now: datetime | None = None) -> list[FlaggedItem]:
    """The flagged sample comments as the moderation core would hand them over, one minute apart."""
    start = (now or datetime.now(UTC)) - timedelta(minutes=len(COMMENTS))
    items = [flagged_item(c, created_at=start + timedelta(minutes=i)) for i, c in enumerate(COMMENTS)]
    return [item for item in items if item.decision != "allow"]
