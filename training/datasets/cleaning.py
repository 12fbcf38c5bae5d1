"""Text cleaning for source artefacts, and the dedup key.

Every source carries platform artefacts: HTML entities, URLs, @mentions and the placeholder tokens its
curators substituted for them (``@USER`` and ``URL`` in OLID, ``@user`` in TweetEval/MLMA, ``@usermention`` in
AbuseAnalyzer, ``<user>`` in HateXplain's original tokens, "RT @x:" retweet prefixes in Davidson). Each
placeholder's frequency follows its source, and each source has its own label base rate, so a model that sees
them learns which dataset a text came from rather than what makes a text abusive. What we evaluate is
generalisation across sources, so the corpus removes them all, identically, from every source.

:func:`clean_text` is applied by the corpus to every source. Loaders handle artefacts that only make sense for
their own format (HateXplain's bare ``user``/``number`` words, MLMA's literal ``\\u2026`` escapes, ConvAbuse's
emoji ``<span>`` markup) with the helpers here before returning.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

_RETWEET = re.compile(r"\bRT\s*@\w+\s*:?|\bRT\b:?(?=\s|$)")  # "RT @x:" prefixes and bare "RT" markers
_URL = re.compile(
    r"(?:(?:https?|ftp)\s?:\s?/+|\bwww\.|\bpic\.twitter\.com/|\bt\.co/)\S*"  # also glued: "righthttps://"
    r"|\bhttps?\b\S*",  # truncated links: "http…", "https:"
    re.IGNORECASE,
)
# E-mail addresses go first (they are no language signal either), then every @handle, even glued to a word
# ("racist@someone", ".@someone"); a colon right after a handle goes with it.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MENTION = re.compile(r"@\w+(?::(?=\s|$))?")
_ANGLE_PLACEHOLDER = re.compile(
    r"<\s*(?:user|url|number|percent|money|email|phone|time|date)\s*>", re.IGNORECASE
)
_URL_PLACEHOLDER = re.compile(r"\bURL\b")  # OLID's replacement for links; upper case only
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc\u0060\u00b4]")
_KEY_TOKEN = re.compile(r"[^\W_]+")
_LITERAL_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")


def unescape_html(text: str) -> str:
    """Decode HTML entities, including doubly escaped ones (``&amp;#128514;``)."""
    for _ in range(3):
        if "&" not in text:
            break
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def clean_text(text: str) -> str:
    """Remove source artefacts from one text; the result may be empty."""
    if not text:
        return ""
    # Substring checks first: most texts have none of these artefacts, and skipping the regexes is what
    # keeps cleaning ~100k texts well under a second.
    # Order matters: retweet prefixes before mentions, mentions ("@URL") before the bare URL placeholder.
    text = unescape_html(text)
    if "RT" in text:
        text = _RETWEET.sub(" ", text)
    lowered = text.lower()
    if "http" in lowered or "www." in lowered or "t.co/" in lowered or "ftp" in lowered or "pic." in lowered:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", _EMAIL.sub(" ", text))
    if "<" in text:
        text = _ANGLE_PLACEHOLDER.sub(" ", text)
    if "URL" in text:
        text = _URL_PLACEHOLDER.sub(" ", text)
    return collapse_whitespace(text)


def clean_texts(texts: Iterable[str]) -> list[str]:
    return [clean_text(text) for text in texts]


def text_key(text: str) -> str:
    """Dedup key: NFKC, casefolded, letters and digits only, words separated by one space.

    Apostrophes are deleted rather than turned into spaces, so "don't" and HateXplain's punctuation-stripped
    "dont" share a key; every other non-alphanumeric character separates words.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES.sub("", text)
    return " ".join(_KEY_TOKEN.findall(text))


def text_keys(texts: Iterable[str]) -> list[str]:
    return [text_key(text) for text in texts]


def remove_words(text: str, words: Iterable[str]) -> str:
    """Delete whole-word occurrences of ``words`` (case-sensitive) and collapse whitespace."""
    alternatives = "|".join(re.escape(word) for word in words)
    if not alternatives:
        return text
    return collapse_whitespace(re.sub(rf"\b(?:{alternatives})\b", " ", text))


def decode_literal_unicode_escapes(text: str) -> str:
    """Turn literal ``\\uXXXX`` sequences (including surrogate pairs) into the characters they encode."""

    def _decode(match: re.Match[str]) -> str:
        units = match.group(0).split("\\u")[1:]
        raw = b"".join(int(unit, 16).to_bytes(2, "big") for unit in units)
        return raw.decode("utf-16-be", errors="replace")

    return _LITERAL_ESCAPES.sub(_decode, text)
