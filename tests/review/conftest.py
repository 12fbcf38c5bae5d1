"""Fixtures of the review tests: a real PostgreSQL server the run starts itself, and fresh databases on it and
on SQLite files."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("service") is None:  # pytest run without the repo on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from review_pg import PostgresServer, find_pg_bin  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from service.review.db import make_engine, make_session_factory, migrate  # noqa: E402

_database_numbers = itertools.count(1)


def _require_or_skip(reason: str) -> None:
    if os.environ.get("CI") or os.environ.get("THREADGUARD_REQUIRE_REAL_SERVICES"):
        pytest.fail(reason)
    pytest.skip(reason)


def _running_pg_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server, yield it, destroy it (skip, or fail under CI, when PostgreSQL is absent)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _require_or_skip("PostgreSQL is not installed (Debian package: postgresql)")
    assert bin_dir is not None
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run (tests that stop the server start their own)."""
    yield from _running_pg_server()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    return pg_server.create_database(f"review_test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'threadguard.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database on each backend."""
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(scope="module")
def own_pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, which its tests may stop and start (they leave it running)."""
    yield from _running_pg_server()
