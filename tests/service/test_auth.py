"""API keys against a real server configured with keys (plain API keys, a hashed admin key)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from service.auth import Access, KeyRing, hash_key
from service.settings import Settings
from tests.service.server import ServerProcess

pytestmark = pytest.mark.slow  # starts its own server

API_KEY = "tg-api-0f9e8d7c6b5a"
ADMIN_KEY = "tg-admin-1a2b3c4d5e6f"
ITEMS = {"items": [{"id": "a", "text": "hello"}]}


@pytest.fixture(scope="module")
def secured(model_dir: Path | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "THREADGUARD_API_KEYS": f"{API_KEY},another-key",
        "THREADGUARD_ADMIN_KEY_HASHES": hash_key(ADMIN_KEY),
    }
    args = ["--model", str(model_dir)] if model_dir is not None else []
    proc = ServerProcess(tmp_path_factory.mktemp("secured") / "server.log", args=args, env=env).start()
    yield proc
    proc.stop()
    assert API_KEY not in proc.logs() and ADMIN_KEY not in proc.logs()


def test_keyring_stores_only_hashes() -> None:
    ring = KeyRing.from_settings(Settings(api_keys=[API_KEY], admin_key_hashes=[hash_key(ADMIN_KEY)]))  # type: ignore[list-item]
    assert API_KEY not in repr(ring) and hash_key(API_KEY) in ring.api_hashes
    assert ring.check(API_KEY) is Access.API and ring.check(ADMIN_KEY) is Access.ADMIN
    assert ring.check("nope") is Access.NONE and ring.check(None) is Access.NONE
    assert not KeyRing.from_settings(Settings()).enabled


def test_keys_are_required_when_configured(secured: ServerProcess) -> None:
    url = f"{secured.base_url}/v1/moderate"
    missing = httpx.post(url, json=ITEMS)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"
    assert httpx.post(url, json=ITEMS, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, json=ITEMS, headers={"authorization": f"Bearer {API_KEY}"}).status_code == 200
    assert httpx.post(url, json=ITEMS, headers={"x-api-key": "another-key"}).status_code == 200
    assert httpx.post(url, json=ITEMS, params={"key": API_KEY}).status_code == 200
    assert httpx.get(f"{secured.base_url}/v1/models").status_code == 401


def test_probes_and_metrics_need_no_key(secured: ServerProcess) -> None:
    for path in ("/livez", "/readyz", "/metrics"):
        assert httpx.get(secured.base_url + path).status_code == 200


def test_perspective_key_parameter_and_error_shape(secured: ServerProcess) -> None:
    url = f"{secured.base_url}/v1alpha1/comments:analyze"
    body = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}}
    denied = httpx.post(url, json=body, params={"key": "bad"})
    assert denied.status_code == 401
    assert denied.json()["error"]["status"] == "UNAUTHENTICATED"
    assert httpx.post(url, json=body, params={"key": API_KEY}).status_code == 200


def test_openai_client_authenticates_with_bearer(secured: ServerProcess) -> None:
    with openai.OpenAI(base_url=f"{secured.base_url}/v1", api_key=API_KEY, max_retries=0) as good:
        assert good.moderations.create(input="hello").results
    with (
        openai.OpenAI(base_url=f"{secured.base_url}/v1", api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.moderations.create(input="hello")


def test_admin_needs_an_admin_key(secured: ServerProcess) -> None:
    url = f"{secured.base_url}/v1/admin/reload"
    assert httpx.post(url).status_code == 401
    forbidden = httpx.post(url, headers={"authorization": f"Bearer {API_KEY}"})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    ok = httpx.post(url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=60.0)
    assert ok.status_code == 200, ok.text
    assert ok.json()["model"]["version"]
    # an admin key is also an API key
    assert (
        httpx.post(f"{secured.base_url}/v1/moderate", json=ITEMS, headers={"x-api-key": ADMIN_KEY}).status_code == 200
    )
