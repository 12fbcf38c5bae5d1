"""Engine construction and schema migration for the review database (SQLite file or PostgreSQL).

``make_engine`` picks backend-appropriate settings (WAL and a busy timeout for SQLite; short connect timeouts
and pre-ping for PostgreSQL, so a database that went away is noticed quickly instead of hanging a writer).
``migrate`` runs the bundled Alembic migrations programmatically; it is safe to call from several processes
at once (PostgreSQL: an advisory lock; SQLite: a lock file next to the database).
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

VERSION_TABLE = "review_alembic_version"
# arbitrary 63-bit key for pg_advisory_lock, so concurrent workers migrate one at a time
_MIGRATION_LOCK_KEY = 0x74677276_00000001


def make_engine(url: str, **overrides: Any) -> Engine:
    """An engine for ``url`` with settings suited to a small background writer and a console."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 5.0}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here, not psycopg2
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs.update(
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={"connect_timeout": 3, "application_name": "threadguard-review"},
        )
    kwargs.update(overrides)
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


def _alembic_config() -> Config:
    script_location = resources.files("service.review").joinpath("migrations")
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["version_table"] = VERSION_TABLE
    return config


def head_revision() -> str:
    """The newest migration bundled with this code."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (default: the newest bundled migration)."""
    config = _alembic_config()
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    log.info("review database at revision %s", current_revision(engine))


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (PostgreSQL uses an advisory lock instead)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
