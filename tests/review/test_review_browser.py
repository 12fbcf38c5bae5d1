"""The console in Debian's chromium, driven by Playwright: a reviewer logs in, reviews three items with the
keyboard, applies a bulk action, and an admin finds all of it in the audit log.

Screenshots of the queue and item pages are written to the test's temp dir, and to ``docs/images/`` when
``THREADGUARD_UPDATE_SCREENSHOTS=1`` (how the README/docs pictures are refreshed).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from review_console_client import ADMIN, REVIEWER, seeded_console
from review_server import REPO_ROOT

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("THREADGUARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]



@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with seeded_console(tmp_path_factory.mktemp("browser")) as (server, _):
        yield server.base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM} (Debian package: chromium)")
        pytest.skip(f"chromium not found at {CHROMIUM} (Debian package: chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, console_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=console_url, viewport={"width": 1320, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    # refusals (401/403/409) are part of the tests; a missing asset or a server error never is
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status == 404 or response.status >= 500 else None)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    if os.environ.get("THREADGUARD_UPDATE_SCREENSHOTS") == "1":
        images = REPO_ROOT / "docs" / "images"
        images.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, images / name)
    return target


def log_in(page: Page, who: tuple[str, str]) -> None:
    page.goto("/console/queue")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("Username").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/console/queue$"))


def row(page: Page, index: int) -> Locator:
    return page.locator("table.items tbody tr").nth(index)


def test_review_with_the_keyboard_bulk_action_and_audit_log(page: Page, tmp_path: Path) -> None:
    log_in(page, REVIEWER)
    rows = page.locator("table.items tbody tr")
    expect(rows).to_have_count(10)
    item_ids = [rows.nth(i).get_attribute("data-item") for i in range(5)]

    # help overlay
    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_hidden()

    # 1: j selects the first row (focus ring), a approves it, the cursor moves on
    page.keyboard.press("j")
    expect(row(page, 0)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(row(page, 0)).to_be_focused()
    page.keyboard.press("a")
    expect(row(page, 0).locator("[data-status-badge]")).to_have_text("approved")
    expect(row(page, 1)).to_have_class(re.compile(r"\bcurrent\b"))

    # 2: r opens the reason picker, 1 chooses "insult", Enter confirms
    page.keyboard.press("r")
    picker = page.locator("dialog#picker")
    expect(picker).to_be_visible()
    page.keyboard.press("1")
    expect(picker.locator('input[value="insult"]')).to_be_checked()
    screenshot(page, "console-picker.png", tmp_path)
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(row(page, 1).locator("[data-status-badge]")).to_have_text("removed")

    # 3: e escalates with reason 6 (misinformation) and a note written after pressing n
    expect(row(page, 2)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("e")
    page.keyboard.press("6")
    page.keyboard.press("n")
    page.keyboard.type("claims the strike was staged #atrocity_denial")
    page.keyboard.press("Control+Enter")
    expect(row(page, 2).locator("[data-status-badge]")).to_have_text("escalated")

    # bulk: the cursor moved on to row 4; x selects it and row 5, the bulk bar removes both as hate (2)
    expect(row(page, 3)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    screenshot(page, "console-queue.png", tmp_path)  # three decided, cursor on a selected row
    page.get_by_role("button", name="Remove selected").click()
    expect(picker).to_be_visible()
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    for index in (3, 4):
        expect(row(page, index).locator("[data-status-badge]")).to_have_text("removed")
    expect(page.locator("[data-selected-count]")).to_have_text("0")

    # the server agrees: the five decided items left the pending queue
    page.reload()
    expect(rows).to_have_count(5)
    remaining = {rows.nth(i).get_attribute("data-item") for i in range(5)}
    assert remaining.isdisjoint(item_ids)

    # item page: open with Enter, see highlighted spans, move on with j
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/items/\d+"))
    expect(page.locator("blockquote.comment-text mark.hl").first).to_be_visible()
    first_item_url = page.url
    page.keyboard.press("j")
    expect(page).not_to_have_url(first_item_url)

    # a reviewer is refused the audit log
    response = page.goto("/console/audit")
    assert response is not None and response.status == 403
    page.goto("/console/queue")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))

    # the admin sees every action in the audit log, the bulk one with a shared bulk id
    log_in(page, ADMIN)
    page.goto("/console/audit?actor=rita")
    entries = page.locator("table.audit-log tbody tr")
    expect(entries).to_have_count(5)
    actions = [entries.nth(i).get_attribute("data-audit-action") for i in range(5)]
    assert actions == ["remove", "remove", "escalate", "remove", "approve"]  # newest first
    bulk_ids = {entries.nth(i).locator("td").nth(6).inner_text() for i in range(2)}
    assert len(bulk_ids) == 1 and bulk_ids != {""}
    expect(entries.nth(2)).to_contain_text("atrocity_denial")
    expect(entries.nth(4).locator("td").nth(4)).to_contain_text("pending")  # before
    expect(entries.nth(4).locator("td").nth(5)).to_contain_text("approved")  # after

    page.goto("/console/reviewers")
    rita = page.locator('tr[data-reviewer="rita"]')
    expect(rita).to_contain_text("5")
    expect(rita.locator("[data-agreement]")).to_have_text("75%")  # 3 removed / (3 removed + 1 approved)


def test_item_page_screenshot_shows_context_and_spans(page: Page, tmp_path: Path) -> None:
    log_in(page, ADMIN)
    page.goto("/console/queue?status=any&sort=age&order=asc")
    target = page.locator("table.items tbody tr", has_text="Clowns like you")
    target.locator("a").first.click()
    expect(page.locator("h1")).to_have_text("Item c205")
    expect(page.locator("section.context")).to_contain_text("Only a moron could watch")
    expect(page.locator("mark.hl.label-threat")).to_have_text("we will find you")
    screenshot(page, "console-item.png", tmp_path)
