"""The console's pages in a real browser: an organiser signs in, finds people by filter, opens a team
and moves someone into it, and reads the audit log filtered; a screenshot of each page is taken
(console-<page>.png, into docs/ with HACKSERVER_SCREENSHOTS=docs)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Page, expect

from hackserver.app import create_app
from hackserver.foundation.settings import Settings
from tests.conftest import EXAMPLE_EVENT
from tests.servers import runtime_of, serving
from tests.submissions.test_submissions import entry, new_team, save
from tests.web import test_a11y_browser, test_browser, test_dashboard_browser
from tests.web.test_a11y_browser import Site
from tests.web.test_console_challenges import BAD, GOOD
from tests.web.test_console_experts import BAD as EXPERTS_BAD
from tests.web.test_console_experts import GOOD as EXPERTS_GOOD
from tests.web.test_console_judging import scored
from tests.web.test_console_teams import person, team_id
from tests.web.test_dashboard import TOKEN
from tests.web.test_dashboard_browser import base, sign_in

pytestmark = pytest.mark.browser
chromium, browser, page = test_browser.chromium, test_browser.browser, test_browser.page  # the fixtures
server, site = test_dashboard_browser.server, test_a11y_browser.site


@pytest.fixture
async def empty_catalogue(tmp_path: Path, free_port: int) -> AsyncIterator[uvicorn.Server]:
    """The dashboard's demo server, with the example event alone: no example catalogue beside it for
    the demo to load."""
    event = tmp_path / "event.toml"
    shutil.copyfile(EXAMPLE_EVENT, event)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}", event_path=event, organiser_token=TOKEN
    )
    async with serving(create_app(settings, demo=True, run_clock=False), free_port) as server:
        yield server


async def test_an_organiser_finds_a_person_moves_them_into_a_team_and_reads_it_in_the_audit_log(
    page: Page, server: uvicorn.Server, screenshots: Path
) -> None:
    runtime = runtime_of(server)
    await person(runtime, "Ada Lovelace", skills=["python", "data"], languages=["en"], team="Luftretter")
    await person(runtime, "Bertha Benz", skills=["design"], languages=["de"], team="Wasserwerk")
    await person(runtime, "Grace Hopper", skills=["python"], languages=["en", "de"], pool=True)
    luftretter = await team_id(runtime, "Luftretter")
    await sign_in(page, server)
    await page.get_by_role("link", name="Teams").first.click()
    await page.wait_for_url(f"{base(server)}/dashboard/teams")
    await page.get_by_role("link", name="EN", exact=True).click()
    await page.get_by_label("Skill").fill("Python")
    await page.get_by_label("in the pool").check()
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#total")).to_have_text("Found: 1")
    await expect(page.locator("#rows tbody")).to_contain_text("Grace Hopper")
    await expect(page.locator("#rows tbody")).not_to_contain_text("Ada Lovelace")
    grace = await page.locator("#rows tbody td").first.inner_text()
    await page.get_by_label("in the pool").uncheck()
    await page.get_by_label("Skill").fill("")
    await page.get_by_role("button", name="Filter").click()
    await page.screenshot(path=screenshots / "console-teams.png", full_page=True)

    await page.get_by_role("link", name="Luftretter").click()
    await page.wait_for_url(f"{base(server)}/dashboard/teams/{luftretter}")
    await page.get_by_label("Move a participant into this team").fill(grace)
    await page.get_by_role("button", name="Move here").click()
    await expect(page.get_by_role("status")).to_have_text("Moved into this team.")
    await expect(page.locator("#members")).to_contain_text("Grace Hopper")
    await page.screenshot(path=screenshots / "console-team.png", full_page=True)

    await page.get_by_role("link", name="Audit log").click()
    await page.get_by_label("What").fill("team.")
    await page.keyboard.press("Enter")
    await expect(page.locator("#rows tbody tr")).to_have_count(1)
    await expect(page.locator("#rows tbody")).to_contain_text("team.move")
    await expect(page.locator("#rows tbody")).to_contain_text("organiser:console")
    await page.screenshot(path=screenshots / "console-audit.png", full_page=True)


async def test_an_organiser_downloads_the_submissions_from_the_exports_page(
    page: Page, server: uvicorn.Server, screenshots: Path
) -> None:
    runtime = runtime_of(server)
    team, members = await new_team(runtime, "Luftretter")
    await save(runtime, team, entry(members, title="Betten frei"))
    await sign_in(page, server)
    await page.get_by_role("link", name=re.compile("^Export")).first.click()  # either language
    await page.wait_for_url(f"{base(server)}/dashboard/exports")
    await page.get_by_role("link", name="EN", exact=True).click()
    await page.screenshot(path=screenshots / "console-exports.png", full_page=True)
    async with page.expect_download() as started:
        await page.get_by_role(
            "link", name="Submissions: every team's latest version, status and deadline, CSV"
        ).click()
    download = await started.value
    assert download.suggested_filename == "submissions.csv"
    written = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    assert written.startswith("submission,team_id,team,status") and "Betten frei" in written
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.locator("#rows tbody")).to_contain_text("export.download")


async def test_an_organiser_uploads_a_catalogue_sees_its_bad_row_named_then_imports_it(
    page: Page, empty_catalogue: uvicorn.Server, screenshots: Path, import_file: Callable[..., Any]
) -> None:
    await person(runtime_of(empty_catalogue), "Ada Lovelace", team="Luftretter")
    await sign_in(page, empty_catalogue)
    await page.get_by_role("link", name="Challenges").first.click()
    await page.wait_for_url(f"{base(empty_catalogue)}/dashboard/challenges")
    await page.get_by_role("link", name="EN", exact=True).click()
    await import_file(page, "Catalogue file (CSV or JSON)", BAD)
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was imported")
    await expect(page.locator("#problems li")).to_have_text(
        ["row 3: id: required", re.compile("^row 4: max_teams: expected a whole number")]
    )
    await expect(page.locator("#rows tbody")).to_contain_text("No challenges yet")
    await import_file(page, "Catalogue file (CSV or JSON)", GOOD)
    await expect(page.get_by_role("status")).to_have_text(
        "Catalogue imported: 2 added, 0 updated, 0 unchanged."
    )
    await page.get_by_label("Yes, give every team a challenge now").check()
    await page.get_by_role("button", name="Run the assignment").click()
    await expect(page.get_by_role("status")).to_contain_text("Assignment done: 1 teams")
    await expect(page.locator("#rows tbody tr")).to_have_count(2)
    await page.screenshot(path=screenshots / "console-challenges.png", full_page=True)


async def test_an_organiser_imports_experts_sees_the_bad_row_named_and_copies_a_link(
    page: Page, server: uvicorn.Server, screenshots: Path, import_file: Callable[..., Any]
) -> None:
    await sign_in(page, server)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base(server))
    await page.get_by_role("link", name=re.compile("^Expert")).first.click()  # either language
    await page.wait_for_url(f"{base(server)}/dashboard/experts")
    await page.get_by_role("link", name="EN", exact=True).click()
    await import_file(page, "Expert file (CSV)", EXPERTS_BAD)
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was imported")
    await expect(page.locator("#problems li")).to_have_text(
        [re.compile("^row 3: topics: required"), re.compile("^row 4: timezone: 'Mars/Olympus'")]
    )
    await expect(page.get_by_role("cell", name="Anna Schäfer", exact=True)).to_have_count(0)
    await import_file(page, "Expert file (CSV)", EXPERTS_GOOD)
    await expect(page.get_by_role("status")).to_have_text(
        "Experts imported: 2 added, 0 updated, 0 unchanged."
    )
    await page.get_by_role("button", name="Show link: Anna Schäfer", exact=True).click()
    await expect(page.get_by_role("heading", name="Private link of Anna Schäfer")).to_be_visible()
    await page.get_by_role("button", name="Copy the link").click()
    await expect(page.locator("#copied")).to_have_text("Copied.")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied == await page.locator("#link").input_value() and "/expert/" in copied
    await page.screenshot(path=screenshots / "console-experts.png", full_page=True)
    await page.goto(copied)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Anna Schäfer")


async def test_an_organiser_adds_a_juror_and_copies_their_link(
    page: Page, server: uvicorn.Server, screenshots: Path
) -> None:
    await sign_in(page, server)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base(server))
    await page.goto(f"{base(server)}/dashboard/jurors?lang=en")
    await page.get_by_label("Name", exact=True).fill("Dr. Jana Roth")
    await page.get_by_label("Organisation", exact=True).fill("Charité")
    await page.get_by_label("Categories (separated by ;)").fill("health")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("The juror is added (or updated, by name).")
    await expect(
        page.get_by_role("row", name=re.compile("^Dr. Jana Roth Charité health 0 0 0"))
    ).to_be_visible()
    await page.get_by_role("button", name="Show link: Dr. Jana Roth", exact=True).click()
    await page.get_by_role("button", name="Copy the link").click()
    await expect(page.locator("#copied")).to_have_text("Copied.")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert "/jury/" in copied
    await page.screenshot(path=screenshots / "console-jurors.png", full_page=True)
    await page.goto(copied)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Jana Roth")


async def test_an_organiser_grants_an_extension_then_previews_and_confirms_a_selection(
    page: Page, site: Site, screenshots: Path
) -> None:
    late, members = await new_team(site.runtime, "Luftretter")
    await save(site.runtime, late, entry(members, submit=False, title="Noch nicht fertig"))
    await scored(site.runtime)
    await page.goto(f"{site.base}/dashboard/judging?lang=en")
    await page.get_by_label("Organiser token").fill(TOKEN)
    await page.keyboard.press("Enter")
    # Back on the page asked for (the sign-in form had its address), in the language picked.
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.url == f"{site.base}/dashboard/judging?lang=en"
    await page.get_by_label("Team number").fill(str(late))
    await page.get_by_label("Extension past the deadline").fill("+30m")
    await page.get_by_role("button", name="Grant the extension").click()
    await expect(page.get_by_role("status")).to_have_text("The extension is granted.")
    await expect(page.get_by_role("row", name=re.compile(f"^{late} Luftretter draft"))).to_contain_text(
        "extended"
    )
    await page.get_by_label("Select the best N submissions").fill("1")
    await page.get_by_label("N in each category").check()
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("heading", name="Would be selected: 2")).to_be_visible()
    await expect(page.locator("#preview li")).to_have_text(
        ["<script>alert(1)</script> (mobility)", "Team 2 (health)"]
    )
    await page.screenshot(path=screenshots / "console-judging.png", full_page=True)
    await page.get_by_label("Yes, mark these selected").check()
    await page.get_by_role("button", name="Confirm the selection").click()
    await expect(page.get_by_role("status")).to_contain_text("Selection done: 2 selected")
    await expect(page.locator("#ranking tbody tr").first).to_contain_text("selected")
