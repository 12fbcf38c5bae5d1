"""Small pure parts: span highlighting, password hashing, settings parsing, safe redirects."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.review.console.security import safe_next
from service.review.highlight import Segment, segments
from service.review.passwords import ScryptCost, hash_password, needs_rehash, verify_password
from service.review.settings import ReviewSettings

CHEAP = ScryptCost(log2_n=12)


def test_segments_cover_the_text_once_and_merge_overlaps() -> None:
    text = "you pathetic idiot, we will find you"
    spans = [
        {"label": "insult", "begin": 4, "end": 18, "weight": 1.0},
        {"label": "insult", "begin": 13, "end": 18},
        {"label": "threat", "start": 20, "end": 36},  # the older key name
        {"label": "toxicity", "begin": 13, "end": 30},
    ]
    result = segments(text, spans)
    assert "".join(segment.text for segment in result) == text
    assert result == [
        Segment("you "),
        Segment("pathetic ", ("insult",)),
        Segment("idiot", ("insult", "toxicity")),
        Segment(", ", ("toxicity",)),
        Segment("we will fi", ("threat", "toxicity")),
        Segment("nd you", ("threat",)),
    ]


@pytest.mark.parametrize("bad", [
    {"label": "x", "begin": 5, "end": 2}, {"label": "x", "begin": -3, "end": 0}, {"label": "x", "begin": "1", "end": 3},
    {"label": "x", "begin": True, "end": 3}, {"label": "x"}, {"label": "x", "begin": 50, "end": 60},
])
def test_segments_ignore_spans_that_do_not_fit(bad: dict[str, object]) -> None:
    assert segments("short text", [bad]) == [Segment("short text")]


def test_segments_clip_to_the_text() -> None:
    assert segments("abc", [{"label": "x", "begin": 1, "end": 99}]) == [Segment("a"), Segment("bc", ("x",))]
    assert segments("", [{"label": "x", "begin": 0, "end": 1}]) == []


def test_password_hashes_are_salted_self_describing_and_verifiable() -> None:
    first, second = hash_password("correct horse battery", CHEAP), hash_password("correct horse battery", CHEAP)
    assert first != second and first.startswith("scrypt$12$8$1$")
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert needs_rehash(first) and not needs_rehash(hash_password("x" * 10))
    for broken in ("", "plain", "bcrypt$1$2$3$4$5", "scrypt$40$8$1$AA$AA", first.rsplit("$", 1)[0]):
        assert not verify_password("correct horse battery", broken)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADGUARD_DATABASE_URL", "postgresql+psycopg://u@db/q")
    monkeypatch.setenv("THREADGUARD_REVIEW_STORE_DECISIONS", "block")
    monkeypatch.setenv("THREADGUARD_REVIEW_BUFFER_SIZE", "123")
    settings = ReviewSettings()
    assert settings.database_url == "postgresql+psycopg://u@db/q"
    assert settings.review_store_decisions == frozenset({"block"})
    assert settings.review_buffer_size == 123
    monkeypatch.delenv("THREADGUARD_DATABASE_URL")
    assert ReviewSettings().database_url == "sqlite:///./threadguard.db"
    monkeypatch.setenv("THREADGUARD_REVIEW_STORE_DECISIONS", "review,maybe")
    with pytest.raises(ValidationError):
        ReviewSettings()


@pytest.mark.parametrize(("target", "expected"), [
    ("/console/items/3?status=any", "/console/items/3?status=any"),
    ("", "/console/queue"),
    ("https://evil.example/console/", "/console/queue"),
    ("//evil.example", "/console/queue"),
    ("/console/../admin", "/console/queue"),  # the browser would resolve it to /admin
    ("/console/items/%2e%2e/x", "/console/items/%2e%2e/x"),  # encoded dots stay inside the console
    ("/consolex/", "/console/queue"),
    ("/console/login", "/console/queue"),
    ("/console\\\\evil", "/console/queue"),
])
def test_safe_next(target: str, expected: str) -> None:
    assert safe_next(target) == expected
