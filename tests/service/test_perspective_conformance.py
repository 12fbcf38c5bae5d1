"""Pins the Perspective-compatible request, response and error fields (real uvicorn unless noted)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.service.conftest import RecordingSink, TestClient
from tests.service.server import ServerProcess

PATH = "/v1alpha1/comments:analyze"
ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")
ERROR_DETAIL_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"


def analyze(server: ServerProcess, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.base_url + PATH, json=body, timeout=30.0, **kwargs)


def assert_score(score: dict[str, Any]) -> float:
    assert set(score) == {"value", "type"}
    assert score["type"] == "PROBABILITY"
    assert 0.0 <= score["value"] <= 1.0
    return float(score["value"])


def test_full_request_and_response_shape(server: ServerProcess) -> None:
    text = "you are a stupid idiot"
    response = analyze(
        server,
        {
            "comment": {"text": text, "type": "PLAIN_TEXT"},
            "requestedAttributes": {name: {"scoreType": "PROBABILITY"} for name in ATTRIBUTES},
            "spanAnnotations": False,
            "languages": ["en"],
            "doNotStore": True,
            "clientToken": "token-123",
            "context": {"entries": [{"text": "the article", "type": "PLAIN_TEXT"}]},
            "sessionId": "s",
            "communityId": "c",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"attributeScores", "languages", "clientToken"}
    assert body["clientToken"] == "token-123"
    assert body["languages"] == ["en"]
    assert list(body["attributeScores"]) == list(ATTRIBUTES)
    for entry in body["attributeScores"].values():
        assert set(entry) == {"summaryScore", "spanScores"}
        summary = assert_score(entry["summaryScore"])
        [span] = entry["spanScores"]  # without spanAnnotations: one span over the whole comment
        assert set(span) == {"begin", "end", "score"}
        assert (span["begin"], span["end"]) == (0, len(text))
        assert assert_score(span["score"]) == summary
    scores = {name: entry["summaryScore"]["value"] for name, entry in body["attributeScores"].items()}
    assert scores["INSULT"] > 0.5


def test_minimal_request_and_key_parameter(server: ServerProcess) -> None:
    response = analyze(
        server,
        {"comment": {"text": "hello there"}, "requestedAttributes": {"TOXICITY": {}}},
        params={"key": "anything-while-auth-is-off"},
    )
    assert response.status_code == 200
    body = response.json()
    assert "clientToken" not in body
    assert set(body["attributeScores"]) == {"TOXICITY"}


def test_snake_case_field_names_are_accepted(server: ServerProcess) -> None:
    response = analyze(
        server,
        {
            "comment": {"text": "you idiot"},
            "requested_attributes": {"INSULT": {"score_threshold": 0.0}},
            "do_not_store": True,
            "client_token": "t",
        },
    )
    assert response.status_code == 200
    assert response.json()["clientToken"] == "t"


def test_other_model_labels_are_upper_cased_attributes(server: ServerProcess, test_bundle_only: None) -> None:
    response = analyze(
        server,
        {"comment": {"text": "a hoax, it was all staged"}, "requestedAttributes": {"ATROCITY_DENIAL": {}}},
    )
    assert response.status_code == 200
    assert response.json()["attributeScores"]["ATROCITY_DENIAL"]["summaryScore"]["value"] > 0.5


def test_summary_is_omitted_below_the_threshold(server: ServerProcess) -> None:
    response = analyze(
        server,
        {
            "comment": {"text": "thanks for the thoughtful reporting"},
            "requestedAttributes": {"INSULT": {"scoreThreshold": 0.99}, "TOXICITY": {"scoreThreshold": 0.0}},
        },
    )
    scores = response.json()["attributeScores"]
    assert "summaryScore" not in scores["INSULT"] and scores["INSULT"]["spanScores"] == []
    assert "summaryScore" in scores["TOXICITY"]


def test_span_annotations_come_from_explanations(app_client: TestClient, test_bundle_only: None) -> None:
    text = "🙂 well, you are a stupid idiot"
    response = app_client.post(
        PATH, json={"comment": {"text": text}, "requestedAttributes": {"INSULT": {}}, "spanAnnotations": True}
    )
    assert response.status_code == 200
    spans = response.json()["attributeScores"]["INSULT"]["spanScores"]
    assert {text[s["begin"] : s["end"]] for s in spans} == {"stupid", "idiot"}
    for span in spans:
        assert_score(span["score"])


def test_do_not_store_keeps_flagged_comments_out_of_the_review_queue(
    app_client: TestClient, sink: RecordingSink
) -> None:
    body = {
        "comment": {"text": "you are a stupid idiot"},
        "requestedAttributes": {"INSULT": {}},
        "clientToken": "c-1",
    }
    assert app_client.post(PATH, json={**body, "doNotStore": True}).status_code == 200
    assert sink.items == []
    assert app_client.post(PATH, json=body).status_code == 200
    assert [(i.item_id, i.source_client) for i in sink.items] == [("c-1", "perspective")]


@pytest.mark.parametrize(
    ("body", "error_type", "message"),
    [
        pytest.param(
            {"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}},
            "COMMENT_EMPTY",
            "non-empty",
            id="empty",
        ),
        pytest.param({"requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY", "non-empty", id="no-comment"),
        pytest.param(
            {"comment": {"text": "x" * 20_481}, "requestedAttributes": {"TOXICITY": {}}},
            "COMMENT_TOO_LONG",
            "too long",
            id="too-long",
        ),
        pytest.param({"comment": {"text": "hello"}}, "NO_REQUESTED_ATTRIBUTES", "attributes", id="no-attributes"),
        pytest.param(
            {"comment": {"text": "hello"}, "requestedAttributes": {}},
            "NO_REQUESTED_ATTRIBUTES",
            "attributes",
            id="empty-attributes",
        ),
        pytest.param(
            {"comment": {"text": "hallo"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["de"]},
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            "does not support request languages: de",
            id="language",
        ),
        pytest.param(
            {"comment": {"text": "hello"}, "requestedAttributes": {"FLIRTATION": {}}},
            "INVALID_REQUEST",
            "FLIRTATION",
            id="unknown-attribute",
        ),
        pytest.param(
            {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}},
            "INVALID_REQUEST",
            "scoreType",
            id="score-type",
        ),
        pytest.param(
            {"comment": {"text": "<b>hi</b>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}},
            "INVALID_REQUEST",
            "PLAIN_TEXT",
            id="html",
        ),
        pytest.param(
            {"comment": {"text": 5}, "requestedAttributes": {"TOXICITY": {}}},
            "INVALID_REQUEST",
            "comment.text",
            id="wrong-type",
        ),
        pytest.param(
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}},
            "INVALID_REQUEST",
            "scoreThreshold",
            id="threshold-range",
        ),
    ],
)
def test_errors_have_the_perspective_shape(server: ServerProcess, body: Any, error_type: str, message: str) -> None:
    response = analyze(server, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "status", "details"}
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert message in error["message"]
    [detail] = error["details"]
    assert detail["@type"] == ERROR_DETAIL_TYPE and detail["errorType"] == error_type
    if error_type == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE":
        assert detail["languageNotSupportedByAttributeError"] == {
            "detectedLanguages": ["de"],
            "attribute": "TOXICITY",
        }


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"comment": {"text": "bad \xff utf8"}, "requestedAttributes": {"TOXICITY": {}}}'],
    ids=["non-json", "invalid-utf8"],
)
def test_malformed_bodies_are_invalid_request(server: ServerProcess, raw: bytes) -> None:
    response = httpx.post(server.base_url + PATH, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["errorType"] == "INVALID_REQUEST"


def test_regional_english_is_english(server: ServerProcess) -> None:
    response = analyze(
        server,
        {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["en-GB"]},
    )
    assert response.status_code == 200 and response.json()["languages"] == ["en"]
