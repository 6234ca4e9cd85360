"""Every page in headless Chromium, in each state worth seeing: axe-core finds no WCAG 2.1 A/AA
violation in the light or the dark colour scheme, and the page neither scrolls sideways at 320 px nor
at 200 % zoom of a 1280 px window. A team also books a slot and submits its entry by keyboard alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, ViewportSize, expect

from bots import builtin
from hackserver.app import create_app
from hackserver.foundation.settings import Settings
from hackserver.officehours import help_queue
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity, identify
from tests.bots.test_bot_commands import ask
from tests.fakes import FakeClock, event_toml
from tests.judging.test_judging import finals_ready
from tests.office import expert, office_hours_event, publish, team, token
from tests.servers import runtime_of, serving
from tests.submissions.test_submissions import COMPLETE, new_team
from tests.web.test_browser import browser, chromium  # noqa: F401 -- fixtures
from tests.web.test_console_challenges import BAD, GOOD
from tests.web.test_console_experts import BAD as EXPERTS_BAD
from tests.web.test_console_judging import scored
from tests.web.test_console_jurors import BAD as JURORS_BAD
from tests.web.test_office_browser import tab_to
from tests.web.test_submit_page import link_of

pytestmark = pytest.mark.browser
TOKEN = "organiser-token-for-tests-0123"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDE: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 320, "height": 640}
ZOOMED: ViewportSize = {"width": 640, "height": 400}  # in CSS pixels, a 1280 × 800 window at 200 % zoom
BOB = Identity("slack", "T1", "UBOB", "bob")
STICKING_OUT = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 10).map((e) => e.outerHTML.slice(0, 80))"""


@dataclass
class Site:
    base: str
    runtime: Runtime
    clock: FakeClock


@pytest.fixture
async def site(tmp_path: Path, kickoff: datetime, free_port: int) -> AsyncIterator[Site]:
    path = tmp_path / "event.toml"
    path.write_text(office_hours_event(event_toml(kickoff), cutoff="30m", max_future_bookings=2))
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}", event_path=path, organiser_token=TOKEN
    )
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with serving(create_app(settings, clock=clock, run_clock=False), free_port) as server:
        yield Site(f"http://127.0.0.1:{free_port}", runtime_of(server), clock)


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:  # noqa: F811
    page = await browser.new_page(viewport=WIDE)
    yield page
    await page.close()


async def audit(page: Page, state: str) -> None:
    """Fails with every axe violation and every width at which the page scrolls sideways."""
    found: list[str] = []
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        if results.violations_count:
            found.append(f"{scheme} scheme: {results.generate_report()}")
    await page.emulate_media(color_scheme="light")
    for size in (PHONE, ZOOMED):
        await page.set_viewport_size(size)
        scrolled = await page.evaluate("document.documentElement.scrollWidth")
        if scrolled > size["width"]:
            found.append(f"at {size} the page is {scrolled} px wide: {await page.evaluate(STICKING_OUT)}")
    await page.set_viewport_size(WIDE)
    assert not found, f"{state}:\n" + "\n".join(found)


async def opened(page: Page, url: str, status: int = 200) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)


async def unchecked(page: Page) -> None:
    """Turns the browser's own form checks off, so that what the server says about bad input shows."""
    await page.evaluate("document.querySelectorAll('form').forEach((f) => { f.noValidate = true; })")


# -- the pages ---------------------------------------------------------------------------------


async def test_the_channels_page_before_and_after_joining(page: Page, site: Site) -> None:
    await opened(page, f"{site.base}/channels?lang=en")
    await audit(page, "channels, not joined")
    await page.get_by_text("Organiser sign-in").click()
    await page.get_by_label("Organiser token").fill("wrong-token-0000000000")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).not_to_be_empty()
    await audit(page, "channels, a refused organiser token")
    await page.get_by_label("Your name").fill("Ada")
    await page.get_by_role("button", name="Join").click()
    await page.wait_for_url("**/channels?channel=bot-*")
    await expect(page.locator("#connection")).to_have_text("● live")
    await page.keyboard.type("/hack status")
    await page.keyboard.press("Enter")
    await expect(page.locator("#messages li.from-bot")).to_have_count(1)
    await page.keyboard.type("/hack team join nonsense")
    await page.keyboard.press("Enter")
    await expect(page.locator("#messages li.from-bot")).to_have_count(2)
    await audit(page, "channels, joined, with the bot's answers")
    await page.get_by_role("link", name="#announcements").click()
    await audit(page, "channels, joined, the announcements")


async def test_someone_elses_link_asks_before_switching_and_its_form_switches(page: Page, site: Site) -> None:
    async with site.runtime.transaction() as tx:
        await identify(tx, BOB)
    await opened(page, f"{site.base}/channels?lang=en")
    await page.get_by_label("Your name").fill("Ada")
    await page.get_by_role("button", name="Join").click()
    await page.wait_for_url("**/channels?channel=bot-*")
    await opened(page, site.base + builtin.sign_in_path(site.runtime.links.secret, BOB) + "&lang=en")
    await expect(page.locator("#question")).to_have_text("You are signed in as Ada. Sign in as bob instead?")
    await audit(page, "channels, someone else's link")
    await page.get_by_role("button", name="Sign in as bob").click()
    await page.wait_for_url("**/channels?lang=en")
    await expect(page.locator("#me")).to_have_text("bob")


async def test_the_booking_page_with_free_slots_an_error_and_a_booking(
    page: Page, site: Site, kickoff: datetime
) -> None:
    anna = await expert(site.runtime, bio="Datenwissenschaftlerin; offene Daten.")
    await publish(site.runtime, anna.id, kickoff + timedelta(hours=20), minutes=60, length=timedelta(minutes=20))  # fmt: skip
    ours = await team(site.runtime, "Luftretter")
    url = f"{site.base}/book/{await token(site.runtime, 'book', ours.id)}?lang=en&tz=America/New_York"
    await opened(page, url)
    await audit(page, "booking, free slots, no booking")
    await unchecked(page)
    await page.locator("input[name=slot]").first.check()
    await page.get_by_role("button", name="Book").first.click()
    await expect(page.locator("#question")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".problems")).to_be_focused()  # the list of problems, linked to the fields
    await audit(page, "booking, the question missing")
    await page.locator("#question").fill("How do we anonymise location data?")
    await page.locator("input[name=slot]").first.check()
    await page.get_by_role("button", name="Book").first.click()
    await expect(page.get_by_role("status")).to_contain_text("Booked.")
    await audit(page, "booking, one booking")


async def test_the_expert_page_with_slots_a_booking_a_question_and_an_error(
    page: Page, site: Site, kickoff: datetime
) -> None:
    anna = await expert(site.runtime)
    offered = await publish(site.runtime, anna.id, kickoff + timedelta(hours=20), minutes=40, length=timedelta(minutes=20))  # fmt: skip
    ours = await team(site.runtime, "Luftretter")
    async with httpx.AsyncClient(base_url=site.base) as client:
        booked = await client.post(
            f"/book/{await token(site.runtime, 'book', ours.id)}/bookings?lang=en",
            content=urlencode({"slot": offered[0].id, "question": "Which licence?"}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": site.base},
        )
        assert booked.status_code == 303, booked.text
    async with site.runtime.transaction() as tx:
        await help_queue.ask(tx, ours, "data", "Is this data personal?")
    await opened(page, f"{site.base}/expert/{await token(site.runtime, 'expert', anna.id)}?lang=en")
    await audit(page, "expert, slots, a booking and a waiting question")
    await unchecked(page)
    await page.locator("#end").fill("2027-03-20T16:00")
    await page.locator("#length").fill("twenty")
    await page.get_by_role("button", name="Offer slots").click()
    await expect(page.locator("#length")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".problems")).to_be_focused()
    await audit(page, "expert, a bad slot length")


async def test_the_submission_page_empty_refused_and_submitted(page: Page, site: Site) -> None:
    team_id, members = await new_team(site.runtime, "Luftretter")
    await opened(page, f"{site.base}{await link_of(site.runtime, 'submit', team_id, members[0])}?lang=en")
    await audit(page, "submission, empty draft")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.locator(".problems")).to_be_visible()
    await expect(page.locator(".problems")).to_be_focused()
    await audit(page, "submission, incomplete")


async def a_jurors_page(site: Site) -> str:
    """Two final entries assigned to jurors; the address of the page of one who has some."""
    await finals_ready(site.runtime, site.clock, count=2)
    async with httpx.AsyncClient(base_url=site.base, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assigned = await client.post("/api/v1/jury/assignment", json={"seed": 3})
        assert assigned.status_code == 200, assigned.text
        listed = (await client.get("/api/v1/jurors")).json()["jurors"]
    juror = next(j for j in listed if j["assigned"] > 0)
    return f"{site.base}{juror['link']}?lang=en"


async def test_the_jury_page_with_assignments_and_a_refused_score(page: Page, site: Site) -> None:
    await opened(page, await a_jurors_page(site))
    await audit(page, "jury, assignments")
    await unchecked(page)
    first = page.locator("section.state form").first
    await first.get_by_role("spinbutton").first.fill("99")
    await first.get_by_role("button").click()
    await expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    await expect(page.locator(".problems")).to_be_focused()
    await audit(page, "jury, a score out of range")


async def test_the_dashboard_and_its_sign_in(page: Page, site: Site) -> None:
    await ask(site.runtime, "team create Luftretter")
    await ask(site.runtime, "match me", BOB)
    await opened(page, f"{site.base}/dashboard", status=401)
    await audit(page, "dashboard sign-in")
    await page.keyboard.type("not-the-token")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_be_visible()
    await audit(page, "dashboard sign-in, a wrong token")
    await page.get_by_label("Organiser token").fill(TOKEN)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site.base}/dashboard")
    await expect(page.locator("#live")).to_have_text("● live")
    await expect(page.locator("#feed")).to_contain_text("Team “Luftretter” was created")
    await expect(page.locator("figure[data-chart] canvas")).to_have_count(5)
    await audit(page, "dashboard, a team and one in the pool")
    for summary in await page.locator("figure[data-chart] summary").all():
        await summary.click()
    await audit(page, "dashboard, the charts' tables open")


async def test_the_dashboard_and_its_sign_in_in_german(page: Page, site: Site) -> None:
    await ask(site.runtime, "team create Luftretter")
    await ask(site.runtime, "match me", BOB)
    await opened(page, f"{site.base}/dashboard?lang=de", status=401)
    await audit(page, "dashboard sign-in (de)")
    await page.get_by_label("Orga-Token").fill("not-the-token")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text("Dieses Orga-Token stimmt nicht.")
    await audit(page, "dashboard sign-in, a wrong token (de)")
    await page.get_by_label("Orga-Token").fill(TOKEN)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site.base}/dashboard?lang=de")
    await expect(page.locator("#live")).to_have_text("● live")
    await expect(page.locator("#feed")).to_contain_text("Team „Luftretter“ wurde gegründet")
    await expect(page.locator("figure[data-chart] canvas")).to_have_count(5)
    await audit(page, "dashboard, a team and one in the pool (de)")
    for summary in await page.locator("figure[data-chart] summary").all():
        await summary.click()
    await audit(page, "dashboard, the charts' tables open (de)")


async def test_a_refused_link(page: Page, site: Site) -> None:
    await opened(page, f"{site.base}/book/not-a-token?lang=en", status=404)
    await audit(page, "a refused link")


# -- by keyboard alone -------------------------------------------------------------------------


async def focused(page: Page) -> str:
    return str(await page.evaluate("document.activeElement?.id ?? ''"))


async def test_a_team_submits_by_keyboard_alone_at_200_percent_zoom(page: Page, site: Site) -> None:
    team_id, members = await new_team(site.runtime, "Luftretter")
    await page.set_viewport_size(ZOOMED)
    await opened(page, f"{site.base}{await link_of(site.runtime, 'submit', team_id, members[0])}?lang=en")
    await tab_to(page, "#field-title")
    await page.keyboard.type(COMPLETE["title"])
    await tab_to(page, "button[value=submit]")
    await page.keyboard.press("Enter")  # incomplete: the list of problems takes the focus
    summary = page.get_by_role("alert").filter(has_text="Nothing was saved")
    await expect(summary).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(summary.get_by_role("link").first).to_be_focused()
    target = await summary.get_by_role("link").first.get_attribute("href")
    await page.keyboard.press("Enter")  # the link leads to its field
    assert f"#{await focused(page)}" == target
    assert await page.locator(target or "").get_attribute("aria-invalid") == "true"
    for name, value in COMPLETE.items():
        await tab_to(page, f"#field-{name}")
        await page.keyboard.press("ControlOrMeta+A")
        await page.keyboard.type(value)
    await tab_to(page, "button[value=submit]")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_have_text("Saved: version 1.")
    await expect(page.locator("#status")).to_have_attribute("data-status", "submitted")
    assert await page.evaluate("document.documentElement.scrollWidth") <= ZOOMED["width"]
    await audit(page, "submission, submitted")


async def test_a_juror_scores_and_flags_by_keyboard_alone_on_a_small_phone(page: Page, site: Site) -> None:
    await page.set_viewport_size(PHONE)
    await opened(page, await a_jurors_page(site))
    entry = page.locator("section.state").first
    await tab_to(page, "section.state input[type=number]")
    for score in ("7", "5", "6"):
        await page.keyboard.type(score)
        await page.keyboard.press("Tab")
    await page.keyboard.type("Clear and useful.")  # the comment
    await tab_to(page, "button[value=score]")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_have_text("Saved.")
    await expect(entry.get_by_role("spinbutton").first).to_have_value("7")
    await expect(entry.get_by_role("heading", level=2)).to_contain_text("scored")
    await tab_to(page, "section.state summary")
    await page.keyboard.press("Enter")  # opens "Cannot judge it?"
    await page.keyboard.press("Tab")
    await page.keyboard.press("ArrowDown")  # the second reason
    await tab_to(page, "button[value=flag]")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_have_text("Flagged; it goes to another juror.")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_the_skip_link_is_the_first_stop_and_leads_past_the_header(page: Page, site: Site) -> None:
    team_id, members = await new_team(site.runtime, "Luftretter")
    await opened(page, f"{site.base}{await link_of(site.runtime, 'submit', team_id, members[0])}?lang=en")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")  # past the language links, to the first field
    assert await focused(page) == "field-title"


async def test_the_console_pages(page: Page, site: Site, import_file: Callable[..., Any]) -> None:
    await ask(site.runtime, "team create Luftretter")
    await ask(site.runtime, "match me", BOB)
    await opened(page, f"{site.base}/dashboard/teams", status=401)
    await page.get_by_label("Organiser token").fill(TOKEN)
    await page.keyboard.press("Enter")
    # Back on the page asked for (the sign-in form had its address), now signed in.
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.url == f"{site.base}/dashboard/teams"
    for lang in ("en", "de"):
        await opened(page, f"{site.base}/dashboard/teams?lang={lang}")
        await audit(page, f"console, participants ({lang})")
    await opened(page, f"{site.base}/dashboard/teams?view=teams&small=on&lang=en")
    await audit(page, "console, teams below the minimum size")
    await page.get_by_role("link", name="Luftretter").click()
    await unchecked(page)
    await page.get_by_role("button", name="Merge").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await audit(page, "console, a team and a refused merge")
    await opened(page, f"{site.base}/dashboard/audit?since=2026-13-01", status=422)
    await audit(page, "console, the audit log with a bad date")
    await opened(page, f"{site.base}/dashboard/audit")
    await audit(page, "console, the audit log")
    for lang in ("en", "de"):
        await opened(page, f"{site.base}/dashboard/challenges?lang={lang}")
        await audit(page, f"console, the challenges ({lang})")
    await import_file(page, "Katalogdatei (CSV oder JSON)", BAD, "Importieren")
    await expect(page.locator("#problems li")).to_have_count(2)
    await audit(page, "console, a catalogue with bad rows")
    await import_file(page, "Katalogdatei (CSV oder JSON)", GOOD, "Importieren")
    await expect(page.get_by_role("status")).to_be_visible()
    await audit(page, "console, the challenges imported")
    anna = await expert(site.runtime)
    wasserwerk = await team(site.runtime, "Wasserwerk")
    async with site.runtime.transaction() as tx:
        await help_queue.ask(tx, wasserwerk, "data", "Is this data personal?")
    for lang in ("en", "de"):
        await opened(page, f"{site.base}/dashboard/experts?lang={lang}")
        await audit(page, f"console, the experts and the help queue ({lang})")
    await import_file(page, "Datei der Expert:innen (CSV)", EXPERTS_BAD, "Importieren")
    await expect(page.locator("#problems li")).to_have_count(2)
    await audit(page, "console, an expert file with bad rows")
    await page.get_by_role("button", name=f"Link zeigen: {anna.name}").click()
    await expect(page.locator("#link")).to_be_visible()
    await audit(page, "console, an expert's link shown")
    for lang in ("en", "de"):
        await opened(page, f"{site.base}/dashboard/jurors?lang={lang}")
        await audit(page, f"console, the jurors ({lang})")
    await import_file(page, "Jury-Datei (CSV", JURORS_BAD, "Importieren")
    await expect(page.locator("#problems li")).to_have_count(2)
    await audit(page, "console, a juror file with bad rows")
    await page.get_by_label("Name", exact=True).fill("Dr. Jana Roth")
    await page.get_by_role("button", name="Hinzufügen").click()
    await page.get_by_role("button", name="Link zeigen: Dr. Jana Roth").click()
    await expect(page.locator("#link")).to_be_visible()
    await audit(page, "console, a juror added and their link shown")
    await scored(site.runtime)
    for lang in ("en", "de"):
        await opened(page, f"{site.base}/dashboard/judging?lang={lang}")
        await audit(page, f"console, judging with a ranking ({lang})")
    await opened(page, f"{site.base}/dashboard/judging?top=2&lang=en")
    await expect(page.locator("#preview li")).to_have_count(2)
    await audit(page, "console, a selection previewed")
    await opened(page, f"{site.base}/dashboard/judging?top=0&lang=en", status=422)
    await audit(page, "console, a selection with a bad number")
    for lang in ("en", "de"):
        await opened(page, f"{site.base}/dashboard/exports?lang={lang}")
        await audit(page, f"console, the exports ({lang})")
