"""Native API over a real uvicorn process: results, explanations, limits and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from service.api.native import ModerateResponse
from tests.service.conftest import RecordingSink, TestClient
from tests.service.server import ServerProcess

TOXIC = "you are a stupid idiot"
CLEAN = "thanks for the thoughtful reporting"


def post(server: ServerProcess, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.base_url + path, timeout=30.0, **kwargs)


def test_moderate_returns_results_in_request_order(server: ServerProcess) -> None:
    items = [{"id": f"id-{i}", "text": text} for i, text in enumerate([CLEAN, TOXIC, CLEAN + " again"])]
    response = post(server, "/v1/moderate", json={"items": items})
    assert response.status_code == 200, response.text
    body = TypeAdapter(ModerateResponse).validate_python(response.json())  # conforms to the documented model
    assert [r.id for r in body.results] == ["id-0", "id-1", "id-2"]
    toxic, clean = body.results[1], body.results[0]
    assert toxic.decision in {"review", "block"} and toxic.triggered
    assert clean.decision == "allow" and clean.triggered == []
    assert toxic.scores["insult"] > clean.scores["insult"]
    assert all(0.0 <= v <= 1.0 for r in body.results for v in r.scores.values())
    assert body.model.name and body.model.version
    assert response.headers["x-request-id"]


def test_labels_restrict_scores_and_decisions(server: ServerProcess, test_bundle_only: None) -> None:
    response = post(
        server,
        "/v1/moderate",
        json={"items": [{"id": "a", "text": "damn you idiot"}], "labels": ["profanity"]},
    )
    result = response.json()["results"][0]
    assert list(result["scores"]) == ["profanity"]
    assert result["triggered"] == ["profanity"]


def test_explain_over_http_degrades_gracefully_without_an_ngram_model(
    server: ServerProcess, test_bundle_only: None
) -> None:
    """The served test bundle is not an n-gram model: explain=true answers with empty spans and a flag."""
    response = post(server, "/v1/moderate", json={"items": [{"id": "a", "text": TOXIC}], "explain": True})
    assert response.status_code == 200
    assert response.json()["results"][0]["spans"] == []
    assert response.json()["model"]["explanations_available"] is False


@pytest.mark.parametrize(
    "text",
    [
        "you are a stupid idiot",
        "😀😀 you stupid 👩🏽‍🚀 idiot ﬁ",  # astral-plane characters and a ZWJ sequence before the words
        "e\u0301e\u0301 Ｙou stupid idiot",  # combining accents and a full-width letter
        "ДУРАК stupid\u200b idiot! 日本語",
    ],
)
def test_explanation_spans_are_code_point_offsets(app_client: TestClient, text: str, test_bundle_only: None) -> None:
    response = app_client.post("/v1/moderate", json={"items": [{"id": "a", "text": text}], "explain": True})
    assert response.status_code == 200
    body = response.json()
    spans = body["results"][0]["spans"]
    assert body["model"]["explanations_available"] is True
    assert {text[s["begin"] : s["end"]].lower() for s in spans if s["label"] == "insult"} == {
        "stupid",
        "idiot",
    }
    assert all(s["weight"] > 0 for s in spans)


def test_flagged_items_reach_the_review_sink_unless_store_is_false(app_client: TestClient, sink: RecordingSink) -> None:
    items = [{"id": "bad", "text": TOXIC, "thread_id": "t1", "author_id": "u1"}, {"id": "ok", "text": CLEAN}]
    assert app_client.post("/v1/moderate", json={"items": items}).status_code == 200
    assert [item.item_id for item in sink.items] == ["bad"]
    flagged = sink.items[0]
    assert flagged.text == TOXIC and flagged.source_client == "native"
    assert flagged.thread_id == "t1" and flagged.author_id == "u1" and flagged.decision in {"review", "block"}
    assert app_client.post("/v1/moderate", json={"items": items, "store": False}).status_code == 200
    assert len(sink.items) == 1


def test_text_at_the_byte_limit_is_accepted(server: ServerProcess) -> None:
    response = post(server, "/v1/moderate", json={"items": [{"id": "a", "text": "a" * 20_480}]})
    assert response.status_code == 200


LONG_MULTIBYTE = "€" * 6_827  # 6,827 characters but 20,481 UTF-8 bytes


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        pytest.param(b"this is not json", None, 400, "invalid_json", id="non-json"),
        pytest.param(b'{"items": [', None, 400, "invalid_json", id="truncated-json"),
        pytest.param(b'{"items":[{"id":"a","text":"\xff\xfe bad"}]}', None, 400, "invalid_json", id="invalid-utf8"),
        pytest.param(b'{"items":[{"id":"a","text":"x\\ud800y"}]}', None, 400, "invalid_json", id="lone-surrogate"),
        pytest.param(
            b'{"items":[{"id":"a","text":"hi"}]}',
            {"content-type": "text/plain"},
            422,
            "invalid_request",
            id="not-json-content-type",
        ),
        pytest.param(b"[1, 2]", None, 422, "invalid_request", id="array-body"),
        pytest.param({"items": "x"}, None, 422, "invalid_request", id="items-not-list"),
        pytest.param({"items": [{"id": "a", "text": 42}]}, None, 422, "invalid_request", id="text-not-string"),
        pytest.param({"items": [{"id": 7, "text": "hi"}]}, None, 422, "invalid_request", id="id-not-string"),
        pytest.param(
            {"items": [{"id": "a", "text": "hi"}], "explain": "yes"},
            None,
            422,
            "invalid_request",
            id="explain-not-bool",
        ),
        pytest.param(
            {"items": [{"id": "a", "text": "hi", "colour": 1}]},
            None,
            422,
            "invalid_request",
            id="unknown-field",
        ),
        pytest.param({"items": []}, None, 422, "items_empty", id="no-items"),
        pytest.param({"items": [{"id": "a", "text": ""}]}, None, 422, "text_empty", id="empty-text"),
        pytest.param({"items": [{"id": "a", "text": "  \n "}]}, None, 422, "text_empty", id="blank-text"),
        pytest.param({"items": [{"id": "a", "text": "a" * 20_481}]}, None, 422, "text_too_long", id="too-long"),
        pytest.param(
            {"items": [{"id": "a", "text": LONG_MULTIBYTE}]},
            None,
            422,
            "text_too_long",
            id="too-long-in-bytes",
        ),
        pytest.param(
            {"items": [{"id": str(i), "text": "hi"} for i in range(257)]},
            None,
            422,
            "too_many_items",
            id="too-many-items",
        ),
        pytest.param(
            {"items": [{"id": "a", "text": "hi"}, {"id": "a", "text": "ho"}]},
            None,
            422,
            "duplicate_id",
            id="duplicate-ids",
        ),
        pytest.param(
            {"items": [{"id": "a", "text": "hi"}], "labels": ["nonsense"]},
            None,
            422,
            "unknown_label",
            id="unknown-label",
        ),
        pytest.param({"items": [{"id": "", "text": "hi"}]}, None, 422, "invalid_request", id="empty-id"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(
    server: ServerProcess, body: Any, headers: dict[str, str] | None, status: int, reason: str
) -> None:
    kwargs: dict[str, Any] = (
        {"json": body}
        if isinstance(body, dict)
        else {"content": body, "headers": headers or {"content-type": "application/json"}}
    )
    response = post(server, "/v1/moderate", **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == reason
    assert error["message"] and error["request_id"] == response.headers["x-request-id"]


def test_body_over_the_request_limit_is_413(server: ServerProcess) -> None:
    big = b'{"items":[{"id":"a","text":"' + b"a" * (5 * 1024 * 1024) + b'"}]}'
    response = post(server, "/v1/moderate", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"

    def chunks() -> Any:  # no Content-Length: the limit applies while streaming
        yield b'{"items":[{"id":"a","text":"'
        for _ in range(5):
            yield b"a" * (1024 * 1024)
        yield b'"}]}'

    response = post(server, "/v1/moderate", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_unknown_route_and_method_use_the_error_shape(server: ServerProcess) -> None:
    missing = httpx.get(server.base_url + "/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = httpx.get(server.base_url + "/v1/moderate")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


@pytest.fixture(scope="module")
def ngram_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app serving a real n-gram bundle, explained by the default (threadguard.explain) explainer."""
    pytest.importorskip("training.export", reason="the trainer package builds the n-gram bundle")
    from service.app import create_app
    from service.settings import Settings
    from tests.service.bundles import build_ngram_bundle

    bundle = build_ngram_bundle(tmp_path_factory.mktemp("ngram") / "ngram-1")
    with TestClient(create_app(Settings(model=bundle.path))) as client:
        yield client


@pytest.mark.parametrize(
    "text",
    [
        "you are a stupid idiot",
        "👩🏽‍🚀😀 you are a stupid idiot",
        "Ｙou are a stupid idiot ﬁ e\u0301",
        "😀 what a moron",
    ],
)
def test_default_explainer_spans_on_a_real_ngram_bundle(ngram_client: TestClient, text: str) -> None:
    response = ngram_client.post("/v1/moderate", json={"items": [{"id": "a", "text": text}], "explain": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["explanations_available"] is True
    result = body["results"][0]
    assert result["scores"]["insult"] > 0.5
    words = {text[s["begin"] : s["end"]] for s in result["spans"] if s["label"] == "insult"}
    assert words and words <= {"stupid", "idiot", "moron"}
    perspective = ngram_client.post(
        "/v1alpha1/comments:analyze",
        json={"comment": {"text": text}, "requestedAttributes": {"INSULT": {}}, "spanAnnotations": True},
    ).json()
    spans = perspective["attributeScores"]["INSULT"]["spanScores"]
    assert {text[s["begin"] : s["end"]] for s in spans} <= {"stupid", "idiot", "moron"}
