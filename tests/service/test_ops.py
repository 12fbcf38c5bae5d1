"""Operations endpoints, structured logs and OpenAPI docs."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import TestClient
from tests.service.server import ServerProcess


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_livez_readyz_models_policy(server: ServerProcess) -> None:
    with server.client() as client:
        assert client.get("/livez").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["model"]["version"]
        models = client.get("/v1/models").json()
        [model] = models["models"]
        assert model["version"] == ready["model"]["version"] and model["labels"]
        assert set(model["label_info"]) == set(model["labels"])
        policy = client.get("/v1/policy").json()
        assert set(policy["labels"]) == set(model["labels"])
        for rule in policy["labels"].values():
            assert set(rule) == {"review", "block", "disabled", "experimental", "source"}
            if rule["experimental"]:
                assert rule["block"] is None


def test_metrics_count_requests_latency_items_and_model(server: ServerProcess) -> None:
    with server.client() as client:
        for _ in range(3):
            client.post(
                "/v1/moderate",
                json={
                    "items": [
                        {"id": "a", "text": "you are a stupid idiot"},
                        {"id": "b", "text": "lovely weather"},
                    ]
                },
            )
        client.post("/v1/moderate", json={"items": []})
        version = client.get("/readyz").json()["model"]["version"]
        response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    ok = [
        v
        for labels, v in found["threadguard_http_requests_total"]
        if labels == {"endpoint": "/v1/moderate", "method": "POST", "status": "200"}
    ]
    assert ok and ok[0] >= 3
    assert any(labels.get("status") == "422" for labels, _ in found["threadguard_http_requests_total"])
    buckets = [
        labels
        for labels, _ in found["threadguard_http_request_duration_seconds_bucket"]
        if labels["endpoint"] == "/v1/moderate"
    ]
    assert any(b["le"] == "0.01" for b in buckets)
    decisions = {labels["decision"]: v for labels, v in found["threadguard_items_total"] if labels["api"] == "native"}
    assert decisions["allow"] >= 3 and decisions.get("review", 0) + decisions.get("block", 0) >= 3
    per_label = {(labels["label"], labels["decision"]) for labels, _ in found["threadguard_label_decisions_total"]}
    assert ("insult", "allow") in per_label
    assert any(labels["version"] == version and v == 1.0 for labels, v in found["threadguard_model_info"])


def test_logs_are_json_with_request_ids_and_never_contain_text(server: ServerProcess) -> None:
    marker = f"secret-comment-{uuid.uuid4().hex}"
    key_marker = f"key-{uuid.uuid4().hex}"
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    response = httpx.post(
        f"{server.base_url}/v1/moderate",
        params={"key": key_marker},
        headers={"x-request-id": request_id},
        json={"items": [{"id": "a", "text": f"you stupid idiot {marker}"}]},
    )
    assert response.headers["x-request-id"] == request_id
    bad = httpx.post(f"{server.base_url}/v1/moderate", json={"items": [{"id": "a", "text": marker * 2000}]})
    assert bad.status_code == 422
    logs = server.logs()
    assert marker not in logs and key_marker not in logs
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    mine = [r for r in records if r.get("request_id") == request_id]
    assert mine and mine[-1]["message"] == "request"
    assert mine[-1]["path"] == "/v1/moderate" and mine[-1]["status"] == 200 and "duration_ms" in mine[-1]
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)


def test_openapi_documents_every_endpoint_with_examples(server: ServerProcess) -> None:
    assert "swagger" in httpx.get(f"{server.base_url}/docs").text.lower()
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    expected = {
        ("post", "/v1/moderate"),
        ("post", "/v1/threads:moderate"),
        ("post", "/v1alpha1/comments:analyze"),
        ("post", "/v1/moderations"),
        ("get", "/v1/models"),
        ("get", "/v1/policy"),
        ("post", "/v1/admin/reload"),
        ("get", "/livez"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    }
    operations = {(method, path): op for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert expected <= set(operations)
    for key in expected:
        op = operations[key]
        ok = op["responses"]["200"]["content"]
        assert any("example" in media or "examples" in media for media in ok.values()), key
        if key[0] == "post":
            assert op["requestBody"]["content"]["application/json"]["examples"], key


def test_policy_file_is_served_and_applied(model_dir: Path | None, tmp_path: Path, test_bundle_only: None) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('disabled_labels = ["insult"]\n\n[thresholds.toxicity]\nreview = 0.1\nblock = 0.99\n')
    with TestClient(create_app(Settings(model=model_dir, policy=policy))) as client:
        view = client.get("/v1/policy").json()
        assert view["source"] == str(policy)
        assert view["labels"]["insult"]["disabled"] is True
        assert view["labels"]["toxicity"] == {
            "review": 0.1,
            "block": 0.99,
            "disabled": False,
            "experimental": False,
            "source": "policy",
        }
        result = client.post("/v1/moderate", json={"items": [{"id": "a", "text": "you stupid idiot"}]}).json()
        assert result["results"][0]["triggered"] == ["toxicity"]  # insult disabled; toxicity reviews at 0.1
        assert result["results"][0]["decision"] == "review"


def test_not_ready_without_a_model_when_allowed(tmp_path: Path) -> None:
    settings = Settings(model=tmp_path / "missing", allow_start_without_model=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
        moderate = client.post("/v1/moderate", json={"items": [{"id": "a", "text": "hi"}]})
        assert moderate.status_code == 503 and moderate.json()["error"]["code"] == "model_not_ready"


class ExplodingScorer:
    """Fault injection: a scorer whose model run fails (as onnxruntime would on a corrupted session)."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels

    def score(self, texts: object) -> object:
        raise RuntimeError("onnxruntime exploded with internal details")


def test_unexpected_errors_are_500_in_each_dialect_without_internals(model_dir: Path | None) -> None:
    app = create_app(Settings(model=model_dir))
    with TestClient(app, raise_server_exceptions=False) as client:
        holder = app.state.core.holder
        model = holder.require()
        holder._current = dataclasses.replace(model, scorer=ExplodingScorer(model.labels))
        native = client.post("/v1/moderate", json={"items": [{"id": "a", "text": "hello"}]})
        assert native.status_code == 500
        assert native.json()["error"] == {
            "code": "internal_error",
            "message": "internal error",
            "request_id": native.headers["x-request-id"],
        }
        perspective = client.post(
            "/v1alpha1/comments:analyze", json={"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}}
        )
        assert perspective.status_code == 500 and perspective.json()["error"]["status"] == "INTERNAL"
        openai_style = client.post("/v1/moderations", json={"input": "hello"})
        assert openai_style.status_code == 500 and openai_style.json()["error"]["type"] == "server_error"
        for response in (native, perspective, openai_style):
            assert "exploded" not in response.text
        assert client.get("/readyz").status_code == 200  # the process keeps serving
