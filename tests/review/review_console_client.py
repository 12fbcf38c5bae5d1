"""An HTTP client that logs in to the console the way a browser does (login CSRF cookie, session cookie)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from review_server import REPO_ROOT

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
