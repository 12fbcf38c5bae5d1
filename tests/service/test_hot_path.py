"""The hot-path machinery behaves exactly like the plain path it replaces.

* the lean JSON route gives the same responses as FastAPI's standard handling, errors and their order included;
* coalesced scoring (concurrent small requests in one ONNX run) gives every request its own scores;
* a large batch split across threads scores like one run;
* the faster metrics, request ids and log timestamps produce what the slower code did.

No timings here: benchmarks/bench_http.py and loadtests/ measure speed.
"""

from __future__ import annotations

import asyncio
import gc
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import SecretStr
from starlette.requests import Request

import service.core.moderation as moderation_module
import service.core.policy as policy_module
from service import auth
from service.api import native, openai_compat, perspective, routing, threads
from service.app import create_app
from service.auth import Access, require_api_key
from service.core.model_holder import ModelHolder, ModelLoader
from service.core.moderation import SCORE_DECIMALS, ModerationCore, ModerationItem, rounded_rows
from service.core.policy import Decisions, LabelRule, Policy
from service.core.scoring import Scorer, create_session
from service.observability.logging import _iso_millis
from service.observability.metrics import OUTCOME_FLUSH_SECONDS, Metrics
from service.observability.middleware import new_request_id
from service.settings import Settings
from tests.service.bundles import WordWeightExplainer, build_bundle, set_current
from threadguard.bundle import load_bundle

from .conftest import TestClient

KEY = "hot-path-key"
JSON = "application/json"
PLUS_JSON = "application/vnd.threadguard+json"  # FastAPI parses it as JSON; the lean path leaves it to FastAPI


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hot") / "m"
    build_bundle(root / "1", "1")
    set_current(root, "1")
    return root


@pytest.fixture(scope="module")
def client(model_dir: Path) -> Any:
    app = create_app(
        Settings(model=model_dir, api_keys=[SecretStr(KEY)]),
        explainer_factory=WordWeightExplainer.from_bundle,
    )
    with TestClient(app) as test_client:
        yield test_client


def without_request_id(payload: Any) -> Any:
    if isinstance(payload, dict):
        return {k: without_request_id(v) for k, v in payload.items() if k not in {"request_id", "id"}}
    if isinstance(payload, list):
        return [without_request_id(v) for v in payload]
    return payload


def test_the_moderation_routes_take_the_lean_path() -> None:
    for router in (native.router, threads.router, perspective.router, openai_compat.router):
        for route in router.routes:
            handler = route.get_route_handler()  # type: ignore[attr-defined]
            assert getattr(handler, "lean", False), route.path  # type: ignore[attr-defined]


CASES: list[tuple[str, bytes, dict[str, str]]] = [
    ("/v1/moderate", b'{"items": [{"id": "a", "text": "you are a stupid idiot"}]}', {}),
    (
        "/v1/moderate",
        b'{"items": [{"id": "a", "text": "fine"}, {"id": "b", "text": "kill"}], "labels": ["insult"]}',
        {},
    ),
    ("/v1/moderate", b'{"items": [{"id": "a", "text": "x"}], "explain": true}', {}),
    ("/v1/moderate", b'{"items": [{"id": "a", "text": "x", "bogus": 1}]}', {}),  # unknown field: 422
    ("/v1/moderate", b'{"items": [{"id": "a", "text": 5}]}', {}),  # wrong type: 422
    ("/v1/moderate", b'{"items": []}', {}),  # core error: 422 items_empty
    ("/v1/moderate", b'{"items": [{"id": "a", "text": "x"}], "explain": "yes"}', {}),  # StrictBool
    ("/v1/moderate", b'{"items": [', {}),  # malformed JSON: 400
    ("/v1/moderate", b'{"items": [{"id": "a", "text": "\\ud800"}]}', {}),  # lone surrogate: 400
    ("/v1/moderate", b"", {}),  # no body: 422
    ("/v1/moderate", b"[1, 2]", {}),  # not an object: 422
    ("/v1/moderate", b'{"items": [{"id": "a", "text": "x"}]}', {"authorization": "Bearer wrong"}),  # 401
    ("/v1/moderate", b'{"items": [', {"authorization": "Bearer wrong"}),  # JSON errors come before auth
    ("/v1/moderate", b'{"items": 3}', {"authorization": "Bearer wrong"}),  # auth comes before validation
    (
        "/v1/threads:moderate",
        b'{"comments": [{"id": "a", "text": "hi"}, {"id": "b", "text": "idiot", "parent_id": "a"}]}',
        {},
    ),
    ("/v1/threads:moderate", b'{"comments": [{"id": "a", "text": "hi", "parent_id": "zz"}]}', {}),
    ("/v1alpha1/comments:analyze", b'{"comment": {"text": "you idiot"}, "requestedAttributes": {"INSULT": {}}}', {}),
    ("/v1alpha1/comments:analyze", b'{"comment": {"text": ""}, "requestedAttributes": {"INSULT": {}}}', {}),
    ("/v1alpha1/comments:analyze", b'{"comment": {"text": "a"}, "requestedAttributes": {"NOPE": {}}}', {}),
    ("/v1/moderations", b'{"input": ["you idiot", "fine"]}', {}),
    ("/v1/moderations", b'{"input": [{"type": "image_url"}]}', {}),
    ("/v1/moderations", b'{"input": "x"}', {"authorization": "Bearer wrong"}),
]


@pytest.mark.parametrize(("path", "body", "headers"), CASES)
def test_lean_and_standard_paths_answer_alike(
    client: TestClient, path: str, body: bytes, headers: dict[str, str]
) -> None:
    base = {"authorization": f"Bearer {KEY}", **headers}
    lean = client.post(path, content=body, headers={**base, "content-type": JSON})
    standard = client.post(path, content=body, headers={**base, "content-type": PLUS_JSON})
    assert lean.status_code == standard.status_code
    assert {k: v for k, v in lean.headers.items() if k in {"www-authenticate", "x-threadguard-model"}} == {
        k: v for k, v in standard.headers.items() if k in {"www-authenticate", "x-threadguard-model"}
    }
    assert without_request_id(lean.json()) == without_request_id(standard.json())


def test_other_content_types_still_get_fastapis_answer(client: TestClient) -> None:
    body = b'{"items": [{"id": "a", "text": "x"}]}'
    for content_type in ("text/plain", None):
        headers = {"authorization": f"Bearer {KEY}"}
        if content_type:
            headers["content-type"] = content_type
        response = client.post("/v1/moderate", content=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"


def test_dependency_overrides_are_honoured(model_dir: Path) -> None:
    settings = Settings(model=model_dir, api_keys=[SecretStr(KEY)])
    app = create_app(settings, explainer_factory=WordWeightExplainer.from_bundle)

    async def allow_all() -> Access:
        return Access.API

    app.dependency_overrides[require_api_key] = allow_all
    with TestClient(app) as test_client:
        response = test_client.post("/v1/moderate", json={"items": [{"id": "a", "text": "hello"}]})
    assert response.status_code == 200


def test_big_requests_are_scored_off_the_event_loop_with_the_same_results(client: TestClient) -> None:
    texts = [f"comment {i} you stupid idiot " * 8 for i in range(60)]  # well over the inline budget
    items = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    big = client.post("/v1/moderate", json={"items": items}, headers={"authorization": f"Bearer {KEY}"}).json()
    one_by_one = [
        client.post("/v1/moderate", json={"items": [item]}, headers={"authorization": f"Bearer {KEY}"}).json()
        for item in items[:5]
    ]
    for i, single in enumerate(one_by_one):
        assert single["results"][0]["scores"] == pytest.approx(big["results"][i]["scores"], abs=1e-5)


# --- coalescing ----------------------------------------------------------------------------------------


def core_for(model_dir: Path, *, coalesce: bool) -> ModerationCore:
    holder = ModelHolder(ModelLoader(model_dir, explainer_factory=WordWeightExplainer.from_bundle))
    holder.load()
    return ModerationCore(holder, coalesce=coalesce)


def test_concurrent_small_requests_share_one_run_and_keep_their_own_scores(model_dir: Path) -> None:
    core = core_for(model_dir, coalesce=True)
    batches = [[ModerationItem(f"{i}-{j}", f"text {i} {'idiot ' * j}") for j in range(1 + i % 3)] for i in range(12)]

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(*(core.moderate_async(items, source="native") for items in batches))

    outcomes = asyncio.run(all_at_once())
    assert core.coalescer is not None
    assert core.coalescer.runs == 1
    assert core.coalescer.texts == sum(len(b) for b in batches)
    for items, outcome in zip(batches, outcomes, strict=True):
        alone = core.moderate(items)
        assert [item.id for item in outcome.items] == [item.id for item in items]
        np.testing.assert_allclose(outcome.scores, alone.scores, atol=1e-6)
        assert outcome.decisions.decision.tolist() == alone.decisions.decision.tolist()


def test_a_request_alone_is_scored_at_once(model_dir: Path) -> None:
    core = core_for(model_dir, coalesce=True)

    async def one_after_another() -> None:
        for i in range(3):
            await core.moderate_async([ModerationItem(str(i), "you idiot")])

    asyncio.run(one_after_another())
    assert core.coalescer is not None
    assert (core.coalescer.runs, core.coalescer.texts) == (3, 3)


def test_coalescing_respects_its_run_size_and_validation(model_dir: Path) -> None:
    core = core_for(model_dir, coalesce=True)
    assert core.coalescer is not None
    core.coalescer.max_texts = 4

    async def many() -> list[Any]:
        calls = [core.moderate_async([ModerationItem("a", f"hello {i}")]) for i in range(10)]
        calls.append(core.moderate_async([ModerationItem("a", "   ")]))  # invalid: fails alone
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(many())
    assert core.coalescer.runs == 3  # 4 + 4 + 2
    assert all(not isinstance(r, BaseException) for r in results[:10])
    assert getattr(results[10], "code", None) == "text_empty"


def test_a_failing_run_fails_every_request_in_it(model_dir: Path) -> None:
    core = core_for(model_dir, coalesce=True)
    model = core.model()

    class Broken:
        labels = model.scorer.labels

        def score(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("onnxruntime exploded")

    object.__setattr__(model, "scorer", Broken())

    async def two() -> list[Any]:
        return await asyncio.gather(  # type: ignore[return-value]
            core.moderate_async([ModerationItem("a", "x")]),
            core.moderate_async([ModerationItem("b", "y")]),
            return_exceptions=True,
        )

    assert [str(r) for r in asyncio.run(two())] == ["onnxruntime exploded"] * 2


# --- scoring split across threads --------------------------------------------------------------------


def test_large_batches_split_across_threads_score_like_one_run(model_dir: Path) -> None:
    bundle = load_bundle(model_dir)
    session = create_session(bundle.onnx_path)
    serial = Scorer(session, bundle.labels, parallel_runs=1)
    parallel = Scorer(session, bundle.labels, parallel_runs=2, parallel_min_chars=1_000)
    padded = Scorer(session, bundle.labels, parallel_runs=3, parallel_min_chars=1_000, max_batch_chars=2_048)
    texts = [f"comment {i}: " + "you stupid idiot " * (i % 7) + "fine words " * (i % 5) for i in range(150)]
    expected = serial.score(texts)
    np.testing.assert_allclose(parallel.score(texts), expected, atol=1e-6)
    np.testing.assert_allclose(padded.score(texts), expected, atol=1e-6)
    np.testing.assert_allclose(parallel.score(texts[:1]), expected[:1], atol=1e-6)


# --- observability -------------------------------------------------------------------------------------


def _counts(metrics: Metrics) -> dict[tuple[str, ...], float]:
    out = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name in {"threadguard_items_total", "threadguard_label_decisions_total"}:
                out[(sample.name, *sorted(sample.labels.values()))] = sample.value
    return out


def test_outcome_metrics_count_the_same_for_small_and_large_batches(model_dir: Path) -> None:
    core = core_for(model_dir, coalesce=False)
    texts = ["you idiot", "hello", "kill you", "nice day", "damn idiot"] * 8
    one_by_one, at_once = Metrics(), Metrics()
    for i, text in enumerate(texts):
        one_by_one.observe_outcome("native", core.moderate([ModerationItem(str(i), text)]))
    at_once.observe_outcome("native", core.moderate([ModerationItem(str(i), t) for i, t in enumerate(texts)]))
    assert _counts(one_by_one) == _counts(at_once)
    assert sum(v for k, v in _counts(at_once).items() if k[0] == "threadguard_items_total") == len(texts)


def test_request_ids_are_32_hex_digits_and_distinct() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


@pytest.mark.parametrize("created", [0.0, 1.9999, 1717243200.5, 1717243259.0004, 1800000000.123456])
def test_log_timestamps_match_isoformat(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert _iso_millis(created) == expected


def test_large_requests_are_offloaded_at_most_two_at_a_time() -> None:
    release = threading.Event()
    running: list[int] = []
    lock = threading.Lock()
    peak = 0

    def work() -> int:
        nonlocal peak
        with lock:
            running.append(1)
            peak = max(peak, len(running))
        release.wait(timeout=30)
        with lock:
            running.pop()
        return 1

    async def scenario() -> list[int]:
        tasks = [asyncio.create_task(routing.offload(work)) for _ in range(5)]
        limiter = None
        for _ in range(2000):  # until two run `work` and three wait for a token
            await asyncio.sleep(0.005)
            limiter = routing._limiters.get(asyncio.get_running_loop())
            with lock:
                inside = len(running)
            if limiter and inside == routing.OFFLOAD_THREADS and limiter.statistics().tasks_waiting == 3:
                break
        assert limiter is not None
        assert limiter.borrowed_tokens == routing.OFFLOAD_THREADS
        assert limiter.statistics().tasks_waiting == 3
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == [1] * 5
    assert peak == routing.OFFLOAD_THREADS


def test_a_model_load_freezes_the_long_lived_heap(model_dir: Path) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    holder = ModelHolder(ModelLoader(model_dir, explainer_factory=WordWeightExplainer.from_bundle))
    ModerationCore(holder)
    holder.load()
    assert gc.get_freeze_count() > 0  # full collections no longer walk the app and the model
    gc.unfreeze()
    ModerationCore(holder, freeze_heap=False)  # opting out adds no listener beyond the first core's
    assert len(holder._listeners) == 1


# --- small batches in plain Python ----------------------------------------------------------------------

SMALL_RULES = [
    LabelRule("a", 0.5, 0.9, disabled=False, experimental=False, source="manifest"),
    LabelRule("b", 0.3, 0.3, disabled=False, experimental=False, source="policy"),  # review == block
    LabelRule("c", 0.2, None, disabled=False, experimental=False, source="manifest"),  # never blocks
    LabelRule("d", 0.4, None, disabled=False, experimental=True, source="manifest"),
    LabelRule("e", 0.1, 0.5, disabled=True, experimental=False, source="policy"),
    LabelRule("f", 0.7, 0.95, disabled=False, experimental=False, source="manifest"),
]


def _boundary_scores() -> np.ndarray:
    """Every threshold exactly, its float32 neighbours, the ends of [0, 1] and a few values in between."""
    thresholds = np.array(sorted({t for r in SMALL_RULES for t in (r.review, r.block) if t is not None}), np.float32)
    up, down = np.nextafter(thresholds, np.float32(2)), np.nextafter(thresholds, np.float32(-1))
    return np.concatenate([thresholds, up, down, np.array([0.0, 1.0, 0.05, 0.6, 0.99], np.float32)])


def _views(decisions: Decisions, n: int) -> tuple[Any, ...]:
    return (
        decisions.levels.dtype,
        decisions.levels.tolist(),
        decisions.decision.dtype,
        decisions.decision.tolist(),
        decisions.triggered.tolist(),
        decisions.level_rows,
        decisions.decision_list,
        [decisions.triggered_columns(i) for i in range(n)],
    )


@pytest.mark.parametrize("n", [1, 2, 5, 16, 17])
@pytest.mark.parametrize("columns", [None, [0, 1, 2, 3, 4, 5], [3], [5, 0, 4], [4, 3], []])
def test_small_batches_are_decided_exactly_like_large_ones(
    monkeypatch: pytest.MonkeyPatch, n: int, columns: list[int] | None
) -> None:
    policy = Policy(SMALL_RULES)
    index = None if columns is None else np.array(columns, dtype=np.int64)
    width = len(SMALL_RULES) if columns is None else len(columns)
    scores = np.random.default_rng(n).choice(_boundary_scores(), size=(n, width))
    monkeypatch.setattr(policy_module, "SMALL_BATCH", 1_000)  # plain Python whatever n
    small = policy.decide(scores, index)
    monkeypatch.setattr(policy_module, "SMALL_BATCH", -1)  # numpy whatever n
    large = policy.decide(scores, index)
    assert _views(small, n) == _views(large, n)
    if n >= 16 and width >= 3:  # the pool exercises every level
        assert {level for row in small.level_rows for level in row} == {0, 1, 2}


def test_small_score_matrices_round_like_numpy_to_the_byte() -> None:
    rng = np.random.default_rng(3)
    ties = (np.arange(-2_000, 2_000) + 0.5) / 1e6  # exact ties in float64 (where round(x, 6) differs), near in float32
    special = np.array([0.0, -0.0, 1.0, -1e-7, -4e-7, 4e-7, 5e-7, 1e-30, -1e-30, 0.1234565, 1e-6])
    for values in (
        np.concatenate([ties, special, rng.random(4_000)]).astype(np.float32),
        np.concatenate([ties, special]),
    ):
        for width in (1, 6, 8):
            for n in (1, 3, 16):
                for start in range(0, len(values) - n * width, n * width * 7):
                    scores = values[start : start + n * width].reshape(n, width)
                    expected = np.round(scores.astype(np.float64), SCORE_DECIMALS).tolist()
                    assert orjson.dumps(rounded_rows(scores)) == orjson.dumps(expected)  # -0.0 included
    for bad in (np.nan, np.inf, -np.inf):  # numpy's path: these survive rounding unchanged
        scores = np.array([[0.25, bad]], np.float32)
        expected = np.round(scores.astype(np.float64), SCORE_DECIMALS).tolist()
        assert orjson.dumps(rounded_rows(scores)) == orjson.dumps(expected)


@pytest.mark.parametrize("labels", [None, ["insult"], ["threat", "toxicity", "atrocity_denial"]])
def test_small_requests_render_like_large_ones(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, labels: list[str] | None
) -> None:
    core = core_for(model_dir, coalesce=False)
    texts = ["you idiot", "hello", "kill you", "staged hoax", "damn idiot", "stupid vermin", "nice day"]
    for n in (1, 2, 7, 16, 17):
        items = [ModerationItem(str(i), texts[i % len(texts)] + " x" * (i // 7)) for i in range(n)]
        rendered = {}
        for small_batch in (1_000, -1):  # every batch in plain Python, then every batch with numpy
            monkeypatch.setattr(policy_module, "SMALL_BATCH", small_batch)
            monkeypatch.setattr(moderation_module, "SMALL_BATCH", small_batch)
            outcome = core.moderate(items, labels=labels)
            rendered[small_batch] = (
                native.render(outcome).body,
                openai_compat.category_results(outcome, outcome.labels),
                outcome.decisions.levels.tolist(),
            )
        assert rendered[1_000] == rendered[-1]


# --- the API key on the lean path -----------------------------------------------------------------------

KEY_REQUESTS: list[tuple[list[tuple[bytes, bytes]], bytes]] = [
    ([], b""),
    ([(b"authorization", b"Bearer k1")], b""),
    ([(b"authorization", b"bearer k1")], b""),
    ([(b"authorization", b"Bearer ")], b"key=q"),  # empty credentials: fall through
    ([(b"authorization", b"Bearer")], b""),
    ([(b"authorization", b"Basic dXNlcjpwdw==")], b"key=q"),  # not bearer: fall through
    ([(b"authorization", b"Bearer k1"), (b"authorization", b"Bearer k2")], b""),  # the first header
    ([(b"authorization", b"Bearer k1"), (b"x-api-key", b"h")], b"key=q"),
    ([(b"x-api-key", b"h")], b"key=q"),
    ([(b"x-api-key", b"")], b"key=q"),
    ([(b"x-api-key", b"h1"), (b"x-api-key", b"h2")], b""),
    ([], b"key=q"),
    ([], b"key="),
    ([], b"key=a&key=b"),  # the last one, as Starlette's QueryParams.get
    ([], b"key=%41+b&other=1"),  # percent and plus decoding
    ([], b"other=1"),
    ([(b"authorization", b"Token t")], b"&"),
    ([(b"authorization", b"BEARER  k1 ")], b""),  # scheme case, credentials stripped
    ([(b"authorization", b""), (b"authorization", b"Bearer k2")], b"key=q"),  # the first header, even empty
    ([(b"x-api-key", b""), (b"x-api-key", b"h2")], b"key=q"),
    ([(b"x-api-key", "kéy".encode("latin-1")), (b"content-type", b"application/json")], b""),
]


@pytest.mark.parametrize(("headers", "query"), KEY_REQUESTS)
def test_the_lean_key_lookup_finds_what_the_declared_dependencies_find(
    headers: list[tuple[bytes, bytes]], query: bytes
) -> None:
    scope = {"type": "http", "method": "POST", "path": "/v1/moderate", "headers": headers, "query_string": query}

    async def both() -> tuple[str | None, str | None]:
        declared = await auth.presented_key(
            await auth._bearer(Request(scope)), await auth._header(Request(scope)), await auth._query(Request(scope))
        )
        return declared, await auth.presented_key_from_request(Request(scope))

    declared, lean = asyncio.run(both())
    assert lean == declared


def test_the_lean_route_asks_for_the_key_directly() -> None:
    route = next(r for r in native.router.routes if getattr(r, "path", "") == "/v1/moderate")
    plan = routing._LeanPlan.build(route.dependant, route.endpoint)  # type: ignore[attr-defined]
    assert plan is not None
    auth_dependency = next(d for d in plan.dependencies if d.call is require_api_key)
    assert [d.call for d in auth_dependency.dependencies] == [auth.presented_key_from_request]


def test_outcome_counts_made_on_the_event_loop_land_together_after_the_flush_interval(model_dir: Path) -> None:
    """On the event loop, outcome counts wait up to OUTCOME_FLUSH_SECONDS and are then added together (one
    increment per label and decision for all the requests in between); a scrape (``render``) flushes first. The
    totals equal counting each outcome at once, as worker threads do."""
    core = core_for(model_dir, coalesce=False)
    texts = ["you idiot", "hello", "kill you", "nice day", "damn idiot"] * 4
    outcomes = [core.moderate([ModerationItem(str(i), text)]) for i, text in enumerate(texts)]
    outcomes.append(core.moderate([ModerationItem(str(i), t) for i, t in enumerate(texts)]))  # > SMALL_BATCH
    direct, on_loop, scraped = Metrics(), Metrics(), Metrics()
    for outcome in outcomes:
        direct.observe_outcome("native", outcome)
    assert sum(v for k, v in _counts(direct).items() if k[0] == "threadguard_items_total") == 2 * len(texts)

    async def observe(metrics: Metrics) -> list[dict[tuple[str, ...], float]]:
        seen = []
        for outcome in outcomes:
            metrics.observe_outcome("native", outcome)
            await asyncio.sleep(0)  # requests in different loop iterations share the flush
        seen.append(_counts(metrics))
        await asyncio.sleep(OUTCOME_FLUSH_SECONDS + 0.05)
        seen.append(_counts(metrics))
        return seen

    before, after = asyncio.run(observe(on_loop))
    assert not any(before.values()) and after == _counts(direct)

    async def observe_only() -> None:
        for outcome in outcomes[:2]:
            scraped.observe_outcome("native", outcome)
        await asyncio.sleep(OUTCOME_FLUSH_SECONDS + 0.05)

    closed = asyncio.new_event_loop()

    def observe_and_stop() -> None:
        for outcome in outcomes[:2]:
            scraped.observe_outcome("native", outcome)
        closed.stop()  # the loop ends with this iteration: the flush it scheduled never runs ...

    closed.call_soon(observe_and_stop)
    closed.run_forever()
    closed.close()
    assert sum(v for k, v in _counts(scraped).items() if k[0] == "threadguard_items_total") == 0
    asyncio.run(observe_only())  # ... and the next loop still schedules one, which takes both loops' counts
    assert sum(v for k, v in _counts(scraped).items() if k[0] == "threadguard_items_total") == 4

    async def observe_and_scrape() -> bytes:
        for outcome in outcomes[:3]:
            scraped.observe_outcome("native", outcome)
        return scraped.render()[0]  # no loop iteration in between

    exposition = asyncio.run(observe_and_scrape()).decode()
    items = [line for line in exposition.splitlines() if line.startswith("threadguard_items_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in items) == 7.0
