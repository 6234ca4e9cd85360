"""The submission page in a real browser at 320 px: labelled fields, keyboard only, errors tied to
their fields, no sideways scrolling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import uvicorn
from playwright.async_api import Browser, Page, expect

from tests.servers import runtime_of
from tests.submissions.test_submissions import new_team
from tests.web.test_browser import browser, chromium  # noqa: F401 -- fixtures
from tests.web.test_submit_page import clock, link_of, server  # noqa: F401 -- fixtures

pytestmark = pytest.mark.browser


@pytest.fixture
async def narrow(browser: Browser) -> AsyncIterator[Page]:  # noqa: F811
    page = await browser.new_page(viewport={"width": 320, "height": 640})
    yield page
    await page.close()


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # the page is the same on both databases; those are tested over HTTP


async def test_a_team_drafts_and_submits_by_keyboard_on_a_small_phone(
    narrow: Page,
    server: uvicorn.Server,  # noqa: F811
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    path = await link_of(runtime, "submit", team_id, members[0])
    await narrow.goto(f"http://127.0.0.1:{server.config.port}{path}?lang=en")
    assert await narrow.evaluate("document.documentElement.scrollWidth") <= 320
    await narrow.get_by_label("Title").fill("Luftretter")
    await expect(narrow.locator("#saver")).to_contain_text("You save as Luftretter-0")
    await narrow.get_by_role("button", name="Submit").focus()
    await narrow.keyboard.press("Enter")  # incomplete: every required field is named, nothing saved
    await expect(narrow.get_by_role("alert").first).to_contain_text("Nothing was saved")
    summary = narrow.get_by_label("Short description")
    assert await summary.get_attribute("aria-invalid") == "true"
    await expect(narrow.locator("#problem-summary")).to_contain_text("is missing")
    assert await narrow.get_by_label("Title").input_value() == "Luftretter"  # what was typed stays
    await narrow.get_by_role("button", name="Save draft").focus()
    await narrow.keyboard.press("Enter")
    await expect(narrow.locator("#notice")).to_have_text("Saved: version 1.")
    await expect(narrow.locator("#status")).to_have_attribute("data-status", "draft")
    assert await narrow.evaluate("document.documentElement.scrollWidth") <= 320
