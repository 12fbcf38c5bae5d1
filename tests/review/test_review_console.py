"""The console over real HTTP (uvicorn subprocess, SQLite file): access control, CSRF, sessions, pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from review_console_client import (
    ADMIN,
    REVIEWER,
    ConsoleClient,
    csrf_from_form,
    seed_comments,
    seeded_console,
)
from review_pg import free_port
from review_server import AppSpec, UvicornServer

from service.review.context import LoginThrottle


@dataclass
class Console:
    server: UvicornServer
    database_url: str
    _sessions: dict[str, ConsoleClient] = field(default_factory=dict)

    def client(self) -> ConsoleClient:
        return ConsoleClient(self.server.base_url)

    def logged_in(self, who: tuple[str, str], *, fresh: bool = False) -> ConsoleClient:
        """A logged-in client; shared per user unless ``fresh`` (each login costs one scrypt)."""
        if not fresh and who[0] in self._sessions:
            return self._sessions[who[0]]
        client = self.client()
        assert client.login(*who).status_code == 303
        if not fresh:
            self._sessions[who[0]] = client
        return client


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with seeded_console(tmp_path_factory.mktemp("console")) as (server, url):
        yield Console(server, url)


def audit_total(admin: ConsoleClient) -> int:
    match = re.search(r'<h1>Audit log <span class="count">(\d+)</span>', admin.http.get("/console/audit").text)
    assert match
    return int(match.group(1))


def queue_item_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-item="(\d+)"', html)]


# -- refused without a session or with the wrong role ------------------------------------------------------

PAGES = ["/console/queue", "/console/items/1", "/console/audit", "/console/reviewers", "/console/queue?status=any"]
ACTIONS = [
    ("/console/items/1/action", {"action": "approve"}),
    ("/console/bulk", {"action": "approve", "ids": "1"}),
    ("/console/logout", {}),
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_anonymous_users_to_login(console: Console, path: str) -> None:
    response = httpx.get(console.server.base_url + path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=%2Fconsole%2F")
    assert "rita" not in response.text and "staged" not in response.text
    as_json = httpx.get(console.server.base_url + path, headers={"Accept": "application/json"})
    assert as_json.status_code == 401


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_actions_refuse_anonymous_users(console: Console, path: str, data: dict[str, str]) -> None:
    admin = console.logged_in(ADMIN)
    audit_before = audit_total(admin)
    response = httpx.post(console.server.base_url + path, data=data, follow_redirects=False)
    assert response.status_code == 401
    assert audit_total(admin) == audit_before  # nothing happened


@pytest.mark.parametrize("path", ["/console/audit", "/console/reviewers"])
def test_admin_pages_refuse_reviewers(console: Console, path: str) -> None:
    reviewer = console.logged_in(REVIEWER)
    response = reviewer.http.get(path)
    assert response.status_code == 403
    assert "for admins" in response.text
    assert console.logged_in(ADMIN).http.get(path).status_code == 200


def test_reviewer_navigation_hides_admin_pages(console: Console) -> None:
    page = console.logged_in(REVIEWER).http.get("/console/queue").text
    assert 'href="/console/audit"' not in page
    assert 'href="/console/audit"' in console.logged_in(ADMIN).http.get("/console/queue").text


def test_reviewers_cannot_overrule_a_decision_but_admins_can(console: Console) -> None:
    reviewer = console.logged_in(REVIEWER)
    ids = queue_item_ids(reviewer.http.get("/console/queue").text)
    target = ids[-1]
    assert reviewer.act(target, "remove", "insult").status_code == 200
    refused = reviewer.act(target, "approve")
    assert refused.status_code == 409 and "already removed" in refused.json()["error"]
    assert console.logged_in(ADMIN).act(target, "approve").status_code == 200


# -- CSRF --------------------------------------------------------------------------------------------------


def test_every_post_needs_the_session_csrf_token(console: Console) -> None:
    reviewer = console.logged_in(REVIEWER)
    other = console.logged_in(ADMIN)  # a valid token, but of another session
    target = queue_item_ids(reviewer.http.get("/console/queue").text)[0]
    assert reviewer.act(target, "approve", csrf="").status_code == 403
    assert reviewer.act(target, "approve", csrf="forged").status_code == 403
    assert reviewer.act(target, "approve", csrf=other.csrf).status_code == 403
    bulk = reviewer.http.post("/console/bulk", data={"action": "approve", "ids": str(target)})
    assert bulk.status_code == 403
    assert reviewer.http.post("/console/logout").status_code == 403
    item = reviewer.http.get(f"/console/items/{target}")
    assert 'data-status="pending"' in item.text
    ok = reviewer.act(target, "approve")
    assert ok.status_code == 200 and ok.json()["updated"] == [target]


def test_login_form_needs_its_csrf_cookie(console: Console) -> None:
    stranger = httpx.Client(base_url=console.server.base_url)
    token = csrf_from_form(stranger.get("/console/login").text)
    stranger.cookies.clear()  # a cross-site form post has no login cookie
    response = stranger.post("/console/login", data={
        "username": REVIEWER[0], "password": REVIEWER[1], "csrf_token": token,
    })
    assert response.status_code == 403
    assert "tg_session" not in response.cookies


# -- sessions ----------------------------------------------------------------------------------------------


def test_login_sets_a_hardened_session_cookie_and_rejects_wrong_passwords(console: Console) -> None:
    client = console.client()
    wrong = client.login(REVIEWER[0], "not-the-password")
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert "tg_session" not in wrong.cookies
    assert client.login("nobody-here", "whatever-password").status_code == 401
    good = client.login(*REVIEWER)
    assert good.status_code == 303 and good.headers["location"] == "/console/queue"
    cookie = good.headers["set-cookie"].lower()
    assert "tg_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/console" in cookie


def test_login_redirects_only_inside_the_console(console: Console) -> None:
    client = console.client()
    for target, expected in [("/console/items/2", "/console/items/2"), ("https://evil.example/", "/console/queue"),
                             ("//evil.example/console/", "/console/queue"), ("/elsewhere", "/console/queue")]:
        form = client.http.get("/console/login")
        response = client.http.post("/console/login", data={
            "username": REVIEWER[0], "password": REVIEWER[1], "csrf_token": csrf_from_form(form.text),
            "next": target,
        })
        assert response.headers["location"] == expected


def test_logout_ends_the_session_on_the_server(console: Console) -> None:
    client = console.logged_in(REVIEWER, fresh=True)
    stolen = dict(client.http.cookies)
    assert client.http.post("/console/logout", data={"csrf_token": client.csrf}).status_code == 303
    replay = httpx.get(console.server.base_url + "/console/queue", cookies=stolen, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/console/login")


# -- pages -------------------------------------------------------------------------------------------------


def test_queue_and_item_pages_render_filters_context_and_spans(console: Console) -> None:
    admin = console.logged_in(ADMIN)
    insults = admin.http.get("/console/queue", params={"label": "insult", "status": "any"})
    assert insults.status_code == 200
    assert len(queue_item_ids(insults.text)) == 3
    item_pk = next(
        pk for pk in queue_item_ids(admin.http.get("/console/queue", params={"status": "any"}).text)
        if "<h1>Item c205</h1>" in admin.http.get(f"/console/items/{pk}").text
    )
    page = admin.http.get(f"/console/items/{item_pk}").text
    assert '<mark class="hl label-insult ' in page and ">Clowns</mark>" in page
    assert "parent c201 was not flagged" in page  # the chain reaches an unstored parent
    assert "Only a moron could watch" in page  # the parent (c203) is shown
    assert "Never happened" in page  # and its parent (c202)
    for label in ("insult", "threat", "toxicity"):
        assert f'<span class="chip label-{label}">{label}</span>' in page


def test_security_headers_and_static_files(console: Console) -> None:
    response = httpx.get(console.server.base_url + "/console/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    script = httpx.get(console.server.base_url + "/console/static/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(console.server.base_url + "/console/static/__init__.py").status_code == 404
    assert httpx.get(console.server.base_url + "/console/static/..%2F__init__.py").status_code == 404


def test_console_answers_503_while_moderation_keeps_working_when_the_database_is_away(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent"
    server = UvicornServer(AppSpec(), {"THREADGUARD_DATABASE_URL": url,
                                       "THREADGUARD_REVIEW_SPILL_PATH": str(tmp_path / "spill.jsonl")}, tmp_path)
    server.start(timeout=60)
    try:
        unavailable = httpx.get(server.base_url + "/console/queue")
        assert unavailable.status_code == 503 and "Moderation is unaffected" in unavailable.text
        client = ConsoleClient(server.base_url)
        assert client.login(*REVIEWER).status_code == 503
        seed_comments(server.base_url)
    finally:
        server.stop()
    assert (tmp_path / "spill.jsonl").exists()  # shutdown spilled what could not be written


def test_login_throttle_blocks_after_repeated_failures() -> None:
    throttle = LoginThrottle(max_failures=3, window_seconds=60)
    for _ in range(3):
        assert not throttle.blocked("rita|1.2.3.4")
        throttle.failed("rita|1.2.3.4")
    assert throttle.blocked("rita|1.2.3.4")
    assert not throttle.blocked("rita|5.6.7.8")
    throttle.succeeded("rita|1.2.3.4")
    assert not throttle.blocked("rita|1.2.3.4")
