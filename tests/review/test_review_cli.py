"""``create-user`` and ``export-labels`` as separate processes, against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from select import select as wait_readable

import pytest
from review_console_client import run_cli
from review_data import flagged_comments
from review_server import REPO_ROOT
from sqlalchemy import select

from service.review.accounts import authenticate
from service.review.actions import apply_action
from service.review.db import make_engine, make_session_factory
from service.review.models import Action, AuditEntry, ReasonCode, ReviewItem, User
from service.review.passwords import verify_password
from service.review.store import write_items


def user_row(url: str, username: str) -> User | None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as db:
            return db.scalar(select(User).where(User.username == username))
    finally:
        engine.dispose()


def test_create_user_reads_the_password_from_stdin(database_url: str) -> None:
    result = run_cli(["create-user", "--username", "olena", "--role", "admin", "--database-url", database_url],
                     stdin="a long enough secret\n")
    assert result.returncode == 0, result.stderr
    user = user_row(database_url, "olena")
    assert user is not None and user.role == "admin"
    assert user.password_hash.startswith("scrypt$17$8$1$")
    assert verify_password("a long enough secret", user.password_hash)
    assert "a long enough secret" not in user.password_hash

    duplicate = run_cli(["create-user", "--username", "olena", "--role", "reviewer", "--database-url", database_url],
                        stdin="another secret 123\n")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    reset = run_cli(["create-user", "--username", "olena", "--role", "reviewer", "--reset",
                     "--database-url", database_url], stdin="another secret 123\n")
    assert reset.returncode == 0, reset.stderr
    user = user_row(database_url, "olena")
    assert user is not None and user.role == "reviewer"
    assert verify_password("another secret 123", user.password_hash)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        events = [(e.actor_name, e.action) for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    engine.dispose()
    assert events == [("cli", "create_user"), ("cli", "reset_user")]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--username", "shorty", "--role", "reviewer"], "short\n", "at least 10"),
        (["--username", "bad name", "--role", "reviewer"], "long enough secret\n", "username"),
        (["--username", "x", "--role", "superuser"], "long enough secret\n", "invalid choice"),
    ],
)
def test_create_user_refuses_bad_input(tmp_path: Path, args: list[str], stdin: str, message: str) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = run_cli(["create-user", *args, "--database-url", url], stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr


def _run_on_terminal(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, typing ``answers`` at its prompts."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.review.cli", *args], stdin=follower, stdout=follower, stderr=follower,
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}, close_fds=True,
    )
    os.close(follower)
    output = b""
    answered = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not wait_readable([leader], [], [], 0.2)[0]:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(leader, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if output.count(b"assword: ") > answered and answered < len(answers):
            os.write(leader, answers[answered].encode() + b"\n")
            answered += 1
    os.close(leader)
    return process.wait(30), output.decode(errors="replace")


def test_create_user_prompts_twice_on_a_terminal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tty.db'}"
    env = {"THREADGUARD_DATABASE_URL": url}
    code, output = _run_on_terminal(["create-user", "--username", "ivan", "--role", "reviewer"],
                                    ["first secret 1234", "other secret 1234"], env)
    assert code == 2 and "do not match" in output, output
    assert not (tmp_path / "tty.db").exists()  # refused before touching the database
    code, output = _run_on_terminal(["create-user", "--username", "ivan", "--role", "reviewer"],
                                    ["same secret 1234", "same secret 1234"], env)
    assert code == 0, output
    assert output.count("assword:") == 2
    assert "same secret" not in output  # not echoed
    user = user_row(url, "ivan")
    assert user is not None and verify_password("same secret 1234", user.password_hash)


def test_verbs_honour_the_environment_and_the_flag_wins(tmp_path: Path, pg_url: str) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'env.db'}"
    from_env = run_cli(["create-user", "--username", "envuser", "--role", "reviewer"],
                       stdin="environment secret\n", env={"THREADGUARD_DATABASE_URL": pg_url})
    assert from_env.returncode == 0, from_env.stderr
    assert user_row(pg_url, "envuser") is not None
    flag = run_cli(["create-user", "--username", "flaguser", "--role", "reviewer", "--database-url", sqlite_url],
                   stdin="flag secret 12345\n", env={"THREADGUARD_DATABASE_URL": pg_url})
    assert flag.returncode == 0, flag.stderr
    assert user_row(sqlite_url, "flaguser") is not None and user_row(pg_url, "flaguser") is None

    out = tmp_path / "labels.jsonl"
    export = run_cli(["export-labels", "--out", str(out)], env={"THREADGUARD_DATABASE_URL": pg_url})
    assert export.returncode == 0, export.stderr
    assert out.read_text() == ""


def test_default_database_is_threadguard_db_in_the_working_directory(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "THREADGUARD_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "service.review.cli", "create-user", "--username", "local", "--role", "admin"],
        input="local secret 12345\n", capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "threadguard.db").exists()
    assert user_row(f"sqlite:///{tmp_path / 'threadguard.db'}", "local") is not None


def test_export_labels_writes_reviewed_items(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    run_cli(["create-user", "--username", "mira", "--role", "reviewer", "--database-url", database_url],
            stdin="mira secret 12345\n")
    write_items(engine, flagged_comments())
    with make_session_factory(engine)() as db:
        mira = authenticate(db, "mira", "mira secret 12345")
        assert mira is not None
        items = {item.item_id: item for item in db.scalars(select(ReviewItem)).unique()}
        apply_action(db, mira, [items["c103"].id], Action.REMOVE, ReasonCode.INSULT, None)
        apply_action(db, mira, [items["c108"].id], Action.APPROVE, None, None)
        apply_action(db, mira, [items["c205"].id], Action.ESCALATE, ReasonCode.THREAT, None)
        db.commit()
    engine.dispose()
    out = tmp_path / "review.jsonl"
    result = run_cli(["export-labels", "--out", str(out), "--database-url", database_url])
    assert result.returncode == 0, result.stderr
    assert "2 rows written" in result.stderr
    rows = {row["source_item_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"c103", "c108"}
    assert (rows["c103"]["insult"], rows["c103"]["toxicity"], rows["c103"]["threat"]) == (1, 1, None)
    assert rows["c108"]["conspiracy"] == 0 and rows["c108"]["toxicity"] is None
    later = run_cli(["export-labels", "--out", "-", "--since", "2999-01-01", "--database-url", database_url])
    assert later.returncode == 0 and later.stdout == ""
