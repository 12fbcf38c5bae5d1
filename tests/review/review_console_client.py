"""An HTTP client that logs in to the console the way a browser does (login CSRF cookie, session cookie)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from review_data import COMMENTS
from review_server import REPO_ROOT, AppSpec, UvicornServer

REVIEWER = ("rita", "rita-reviews-2026")
ADMIN = ("adam", "adam-admin-2026!")

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_from_form(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


class ConsoleClient:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30.0)
        self.csrf = ""

    def login(self, username: str, password: str) -> httpx.Response:
        form = self.http.get("/console/login")
        assert form.status_code == 200, form.text
        response = self.http.post("/console/login", data={
            "username": username, "password": password, "csrf_token": csrf_from_form(form.text),
        })
        if response.status_code == 303:
            page = self.http.get("/console/queue")
            match = _CSRF_META.search(page.text)
            assert match, "no csrf meta tag after login"
            self.csrf = match.group(1)
        return response

    def act(self, item_pk: int, action: str, reason: str = "", *, csrf: str | None = None,
            as_json: bool = True) -> httpx.Response:
        headers = {"Accept": "application/json"} if as_json else {}
        return self.http.post(f"/console/items/{item_pk}/action", headers=headers, data={
            "action": action, "reason_code": reason, "csrf_token": self.csrf if csrf is None else csrf,
        })

    def close(self) -> None:
        self.http.close()


def run_cli(args: list[str], *, stdin: str = "", env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the review CLI verbs as a separate process, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "service.review.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=120, check=False, cwd=cwd or REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
    )


@contextlib.contextmanager
def seeded_console(workdir: Path) -> Iterator[tuple[UvicornServer, str]]:
    """The service on a SQLite file in ``workdir`` with REVIEWER and ADMIN created through the ``create-user``
    CLI and the review_data COMMENTS moderated (so the flagged ones are queued): (server, database URL)."""
    url = f"sqlite:///{workdir / 'threadguard.db'}"
    for (name, password), role in ((REVIEWER, "reviewer"), (ADMIN, "admin")):
        result = run_cli(["create-user", "--username", name, "--role", role, "--database-url", url],
                         stdin=password + "\n")
        assert result.returncode == 0, result.stderr
    server = UvicornServer(AppSpec(), {"THREADGUARD_DATABASE_URL": url}, workdir)
    server.start()
    try:
        seed_comments(server.base_url)
        yield server, url
    finally:
        server.stop()


def seed_comments(base_url: str) -> None:
    """Moderate the review_data COMMENTS through the running service, so the flagged ones are queued."""
    payload = {"items": [
        {"id": c.item_id, "text": c.text, "thread_id": c.thread_id, "parent_id": c.parent_id,
         "author_id": c.author_id} for c in COMMENTS
    ]}
    assert httpx.post(f"{base_url}/v1/moderate", json=payload, timeout=30).status_code == 200
