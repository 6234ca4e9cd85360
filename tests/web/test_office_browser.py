"""The booking page in headless Chromium, on a phone-sized screen, with the keyboard only: a team
books a slot, then reschedules and cancels it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, async_playwright, expect
from sqlalchemy import select

from hackserver.app import create_app
from hackserver.bootstrap import bootstrap
from hackserver.foundation.models import Booking
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.fakes import FakeClock, event_toml
from tests.office import expert, office_hours_event, publish, team, token
from tests.servers import serving
from tests.web.test_browser import CHROMIUM_ARGS, chromium

pytestmark = pytest.mark.browser
__all__ = ["chromium"]  # the fixture, shared with the channel page tests


@pytest.fixture
async def phone(chromium: Path) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 320, "height": 640})
        yield page
        await browser.close()


async def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    pytest.fail(f"the keyboard never reached {selector}")


async def live(runtime: Runtime) -> list[tuple[int, str]]:
    async with runtime.reading() as tx:
        rows = await tx.session.execute(
            select(Booking.slot_id, Booking.question).where(Booking.cancelled_at.is_(None))
        )
        return [(a, b) for a, b in rows]


async def test_a_team_books_reschedules_and_cancels_by_keyboard(
    phone: Page, sqlite_url: str, tmp_path: Path, kickoff: datetime, free_port: int, screenshots: Path
) -> None:
    path = tmp_path / "event.toml"
    path.write_text(office_hours_event(event_toml(kickoff), cutoff="30m", max_future_bookings=2))
    settings = Settings(database_url=sqlite_url, event_path=path)
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with serving(create_app(settings, clock=clock, run_clock=False), free_port), bootstrap(settings, clock=clock) as runtime:  # fmt: skip
        anna = await expert(runtime, bio="Datenwissenschaftlerin; offene Daten und Auswertungen.")
        offered = await publish(runtime, anna.id, kickoff + timedelta(hours=20), minutes=60, length=timedelta(minutes=20))  # fmt: skip
        ours = await team(runtime, "Luftretter")
        link = await token(runtime, "book", ours.id)
        base = f"http://127.0.0.1:{free_port}/book/{link}?lang=en&tz=America/New_York"

        await phone.goto(base)
        await tab_to(phone, "#question")
        await phone.keyboard.type("How do we anonymise location data?")
        await phone.keyboard.press("Tab")  # the first slot's radio button
        await phone.keyboard.press("Space")
        await tab_to(phone, "#book fieldset button")
        await phone.keyboard.press("Enter")
        await expect(phone.get_by_role("status")).to_have_text(
            "Booked. The confirmation is in your team channel too."
        )
        assert await live(runtime) == [(offered[0].id, "How do we anonymise location data?")]
        await expect(phone.locator("li.booking")).to_contain_text("Sat, Mar 20, 9:00")
        await phone.screenshot(path=screenshots / "booking-page.png", full_page=True)
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, "the page scrolls sideways on a small phone"

        await tab_to(phone, "li.booking select")
        await phone.keyboard.press("ArrowDown")  # the next free slot
        await phone.keyboard.press("Tab")
        await phone.keyboard.press("Enter")
        await expect(phone.get_by_role("status")).to_have_text("Rescheduled.")
        ((moved, _),) = await live(runtime)
        assert moved != offered[0].id

        await tab_to(phone, "li.booking form[action*='/cancel'] button")
        await phone.keyboard.press("Enter")
        await expect(phone.get_by_role("status")).to_have_text("Cancelled.")
        assert await live(runtime) == []


async def background(link: Locator) -> Any:
    return await link.evaluate("a => getComputedStyle(a).backgroundColor")


async def test_the_language_switcher_sits_in_the_pages_column_and_marks_the_current_language(
    chromium: Path, sqlite_url: str, tmp_path: Path, kickoff: datetime, free_port: int
) -> None:
    path = tmp_path / "event.toml"
    path.write_text(office_hours_event(event_toml(kickoff)))
    settings = Settings(database_url=sqlite_url, event_path=path)
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with serving(create_app(settings, clock=clock, run_clock=False), free_port), bootstrap(settings, clock=clock) as runtime, async_playwright() as playwright:  # fmt: skip
        anna, ours = await expert(runtime), await team(runtime, "Luftretter")
        pages = [
            f"/book/{await token(runtime, 'book', ours.id)}",
            f"/expert/{await token(runtime, 'expert', anna.id)}",
        ]
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        for address in pages:
            await page.goto(f"http://127.0.0.1:{free_port}{address}?lang=en")
            column = await page.locator("main h1").bounding_box()
            current, other = (page.get_by_role("link", name=n, exact=True) for n in ("EN", "DE"))
            box = await current.bounding_box()
            assert column is not None and box is not None
            # beside the page's column, at its right edge, not in the window's corner
            assert (
                column["x"] + column["width"] - 2
                <= box["x"] + box["width"]
                <= column["x"] + column["width"] + 2
            )
            assert box["height"] >= 24 and box["width"] >= 24  # a target a finger can hit
            assert await background(current) != await background(other)
            assert await current.get_attribute("aria-current") == "true"
        await browser.close()
