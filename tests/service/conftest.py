"""Fixtures for the service tests: test bundles, an in-process app and real ``threadguard serve`` processes.

By default the tests run against small real ONNX bundles built by :mod:`tests.service.bundles`. Set
``THREADGUARD_TEST_BUNDLE=default`` to run the model-agnostic tests against the shipped default bundle
(``models/threadguard-ngram``), or to a bundle / model directory path to test that one; tests that rely on
the test vocabulary are then skipped. The reload tests always use test bundles (they need several versions).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.app import create_app
from service.core.explain import ExplainerFactory, ngram_explainer
from service.core.review_sink import FlaggedItem
from service.settings import Settings
from tests.service.bundles import WordWeightExplainer, build_model_dir
from tests.service.server import ServerProcess

with warnings.catch_warnings():  # starlette warns that its test client will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BUNDLE_ENV = "THREADGUARD_TEST_BUNDLE"
TEST_VERSIONS = {"1.0.0": 1.0, "2.0.0": 1.25, "3.0.0": 1.5}
SERVER_ENV = {"THREADGUARD_MAX_REQUEST_BYTES": str(4 * 1024 * 1024), "THREADGUARD_LOG_LEVEL": "INFO"}


@pytest.fixture(scope="session")
def bundle_kind() -> str:
    """``test``, ``default`` or a path (``THREADGUARD_TEST_BUNDLE``)."""
    kind = os.environ.get(BUNDLE_ENV, "test")
    if kind not in {"test", "default"} and not Path(kind).is_dir():
        raise pytest.UsageError(f"{BUNDLE_ENV} must be 'test', 'default' or a bundle directory")
    return kind


@pytest.fixture
def test_bundle_only(bundle_kind: str) -> None:
    """Skip tests whose expectations depend on the test model's vocabulary."""
    if bundle_kind != "test":
        pytest.skip("relies on the test bundle's vocabulary")


@pytest.fixture(scope="session")
def model_dir(bundle_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The model the shared app/server serve (None = the shipped default bundle). Never mutated."""
    if bundle_kind == "default":
        return None
    if bundle_kind != "test":
        return Path(bundle_kind).resolve()
    return build_model_dir(tmp_path_factory.mktemp("models"), TEST_VERSIONS, current="1.0.0")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A model directory of its own (versions TEST_VERSIONS, ``current`` -> 1.0.0) that a test may repoint."""
    return build_model_dir(tmp_path / "models", TEST_VERSIONS, current="1.0.0")


@pytest.fixture(scope="session")
def explainer_factory(bundle_kind: str) -> ExplainerFactory:
    return WordWeightExplainer.from_bundle if bundle_kind == "test" else ngram_explainer


class RecordingSink:
    """A review sink that keeps what it is given (a real ReviewSink implementation, not a mock)."""

    def __init__(self) -> None:
        self.items: list[FlaggedItem] = []

    def submit(self, items: list[FlaggedItem]) -> None:
        self.items.extend(items)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def app_client(
    model_dir: Path | None, explainer_factory: ExplainerFactory, sink: RecordingSink
) -> Iterator[TestClient]:
    """The real app in-process (lifespan included), with a recording review sink."""
    app = create_app(Settings(model=model_dir), review_sink=sink, explainer_factory=explainer_factory)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def server(model_dir: Path | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real ``threadguard serve`` process shared by the read-only HTTP tests."""
    args = ["--model", str(model_dir)] if model_dir is not None else []
    proc = ServerProcess(tmp_path_factory.mktemp("server") / "server.log", args=args, env=SERVER_ENV).start()
    yield proc
    proc.stop()
