"""The OpenAI-compatible endpoint driven by the real ``openai`` client against a real uvicorn process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from service.api.openai_compat import OPENAI_CATEGORIES
from tests.service.server import ServerProcess


@pytest.fixture
def client(server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{server.base_url}/v1", api_key="not-needed-when-auth-is-off", max_retries=0, timeout=30.0
    ) as oa:
        yield oa


def category_dict(model: object) -> dict[str, object]:
    return model.model_dump(by_alias=True)  # type: ignore[attr-defined]


def test_moderations_with_the_openai_client(client: openai.OpenAI) -> None:
    response = client.moderations.create(input=["you are a stupid idiot", "thanks for the thoughtful reporting"])
    assert response.id.startswith("modr-")
    assert response.model
    toxic, clean = response.results
    assert toxic.flagged is True and clean.flagged is False
    for result in (toxic, clean):
        assert set(category_dict(result.categories)) == set(OPENAI_CATEGORIES)
        assert set(category_dict(result.category_scores)) == set(OPENAI_CATEGORIES)
        assert set(category_dict(result.category_applied_input_types)) == set(OPENAI_CATEGORIES)
    assert toxic.categories.harassment is True
    assert toxic.category_scores.harassment > clean.category_scores.harassment
    # categories we do not model are false / 0.0 and were not applied
    assert toxic.categories.sexual is False and toxic.category_scores.sexual == 0.0
    assert toxic.category_applied_input_types.sexual == []
    assert toxic.category_applied_input_types.harassment == ["text"]


def test_single_string_and_text_parts(client: openai.OpenAI) -> None:
    single = client.moderations.create(input="I will kill you", model="omni-moderation-latest")
    assert len(single.results) == 1
    threat = single.results[0]
    assert threat.category_scores.violence == threat.category_scores.harassment_threatening
    parts = client.moderations.create(input=[{"type": "text", "text": "you are a stupid idiot"}])  # type: ignore[arg-type]
    assert parts.results[0].categories.harassment is True


def test_threat_and_identity_attack_mapping(client: openai.OpenAI, test_bundle_only: None) -> None:
    result = client.moderations.create(input="kill the vermin").results[0]
    assert result.categories.violence and result.categories.harassment_threatening and result.categories.hate
    assert result.categories.hate_threatening is True
    assert result.category_scores.hate_threatening == pytest.approx(
        min(result.category_scores.hate, result.category_scores.violence)
    )


def test_empty_string_is_moderated_not_rejected(client: openai.OpenAI) -> None:
    result = client.moderations.create(input="").results[0]
    assert result.flagged is False


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([], "empty"),
        ([{"type": "image_url", "image_url": {"url": "https://example.invalid/x.png"}}], "image"),
        ([{"type": "text"}], "input[0]"),
        (["a"] * 257, "limit"),
        (["x" * 20_481], "20480"),
    ],
    ids=["empty-list", "image", "part-without-text", "too-many", "too-long"],
)
def test_bad_input_raises_bad_request(client: openai.OpenAI, payload: object, fragment: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.moderations.create(input=payload)  # type: ignore[arg-type]
    assert info.value.status_code == 400
    assert fragment in info.value.message


def test_error_shape(server: ServerProcess) -> None:
    response = httpx.post(f"{server.base_url}/v1/moderations", json={"input": 3})
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == "input"
    missing = httpx.post(f"{server.base_url}/v1/moderations", json={})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input"
